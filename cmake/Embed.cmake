# sc_embed: turns every file under DIRS into one generated .cpp that maps the
# path relative to ROOT ("schema/migrations/sqlite/0001_init.sql") to its bytes, so the
# binary carries its migrations and templates and needs no files beside it.
function(sc_embed name)
  cmake_parse_arguments(E "" "OUTPUT;ROOT" "DIRS" ${ARGN})
  set(_files)
  foreach(d ${E_DIRS})
    file(GLOB_RECURSE _f CONFIGURE_DEPENDS ${E_ROOT}/${d}/*)
    list(APPEND _files ${_f})
  endforeach()
  list(SORT _files)
  set(_list ${CMAKE_BINARY_DIR}/generated/embedded_files.list)
  file(WRITE ${_list}.tmp "${_files}")
  file(COPY_FILE ${_list}.tmp ${_list} ONLY_IF_DIFFERENT)
  add_custom_command(
    OUTPUT ${E_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DOUT=${E_OUTPUT} -DROOT=${E_ROOT} -DLIST=${_list}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedScript.cmake
    DEPENDS ${_files} ${_list} ${PROJECT_SOURCE_DIR}/cmake/EmbedScript.cmake
    COMMENT "Embedding schema and templates")
  add_custom_target(${name} DEPENDS ${E_OUTPUT})
endfunction()
