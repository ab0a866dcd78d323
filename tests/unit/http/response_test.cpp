// The one mapping from error kind to status, and the errors for statuses
// the library sets itself.
#include "http/response.h"

#include <gtest/gtest.h>

namespace sc::detail {
namespace {

TEST(StatusFor, EveryErrorKindHasItsStatus) {
  const std::vector<std::pair<ErrorCode, int>> expected = {
      {ErrorCode::kBadRequest, 400},   {ErrorCode::kBadToken, 400},
      {ErrorCode::kUnauthorized, 401}, {ErrorCode::kForbidden, 403},
      {ErrorCode::kNotFound, 404},     {ErrorCode::kMethodNotAllowed, 405},
      {ErrorCode::kConflict, 409},     {ErrorCode::kExpired, 410},
      {ErrorCode::kTooLarge, 413},     {ErrorCode::kUnsupportedMediaType, 415},
      {ErrorCode::kInvalidInput, 422}, {ErrorCode::kUnsupported, 422},
      {ErrorCode::kRateLimited, 429},  {ErrorCode::kUnavailable, 503},
  };
  for (const auto& [kind, status] : expected)
    EXPECT_EQ(status_for(kind), status) << static_cast<int>(kind);
}

TEST(StatusFor, LibraryStatusesMapBackToTheSameStatus) {
  for (int status : {400, 404, 405, 413}) {
    const auto e = error_for_library_status(status);
    EXPECT_EQ(status_for(e.kind), status);
    EXPECT_FALSE(e.code.empty());
    EXPECT_FALSE(e.message.empty());
  }
  EXPECT_EQ(error_for_library_status(413).code, "payload_too_large");
  EXPECT_EQ(error_for_library_status(405).code, "method_not_allowed");
  // One the mapping does not know (414 URI too long): a generic bad request.
  EXPECT_EQ(error_for_library_status(414).code, "bad_request");
}

}  // namespace
}  // namespace sc::detail
