#include "sc/app/app.h"

int main(int argc, char** argv) { return sc::run_cli(argc, argv); }
