// status.h — HTTP status codes and their reason phrases.
//
//   w.WriteHeader(http::StatusNotFound);
//   http::StatusText(404);  // "Not Found"
#pragma once

#include <string_view>

namespace ringo::http {

inline constexpr int StatusContinue = 100;
inline constexpr int StatusSwitchingProtocols = 101;
inline constexpr int StatusOK = 200;
inline constexpr int StatusCreated = 201;
inline constexpr int StatusAccepted = 202;
inline constexpr int StatusNoContent = 204;
inline constexpr int StatusPartialContent = 206;
inline constexpr int StatusMovedPermanently = 301;
inline constexpr int StatusFound = 302;
inline constexpr int StatusSeeOther = 303;
inline constexpr int StatusNotModified = 304;
inline constexpr int StatusTemporaryRedirect = 307;
inline constexpr int StatusPermanentRedirect = 308;
inline constexpr int StatusBadRequest = 400;
inline constexpr int StatusUnauthorized = 401;
inline constexpr int StatusForbidden = 403;
inline constexpr int StatusNotFound = 404;
inline constexpr int StatusMethodNotAllowed = 405;
inline constexpr int StatusRequestTimeout = 408;
inline constexpr int StatusConflict = 409;
inline constexpr int StatusGone = 410;
inline constexpr int StatusLengthRequired = 411;
inline constexpr int StatusRequestEntityTooLarge = 413;
inline constexpr int StatusRequestURITooLong = 414;
inline constexpr int StatusUnsupportedMediaType = 415;
inline constexpr int StatusExpectationFailed = 417;
inline constexpr int StatusTooManyRequests = 429;
inline constexpr int StatusRequestHeaderFieldsTooLarge = 431;
inline constexpr int StatusInternalServerError = 500;
inline constexpr int StatusNotImplemented = 501;
inline constexpr int StatusBadGateway = 502;
inline constexpr int StatusServiceUnavailable = 503;
inline constexpr int StatusGatewayTimeout = 504;
inline constexpr int StatusHTTPVersionNotSupported = 505;

// StatusText returns the reason phrase of code ("Not Found"), or "" for a
// code it does not know.
std::string_view StatusText(int code) noexcept;

}  // namespace ringo::http
