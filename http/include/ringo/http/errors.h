// errors.h — the HTTP layer's errors, as std::error_code values.
//
//   if (auto err = srv.ListenAndServe(); err != http::ErrServerClosed) log(err.message());
#pragma once

#include <string>
#include <system_error>

namespace ringo::http {

enum class Errc {
  serverClosed = 1,  // Serve returned because of Shutdown or Close: Go's ErrServerClosed
  bodyTooLarge,      // a body read went past MaxBytesReader's or the server's limit
  bodyMalformed,     // the request body's framing was bad (an invalid chunk)
  hijacked,          // the connection was taken over with Hijack
  notSupported,      // the ResponseWriter cannot do that (a body on a 204, Hijack where nothing can be handed out)
  contentLength,     // a handler wrote more than the Content-Length it set
  badStatus,         // WriteHeader with a code outside 100..999
  abortHandler,      // the connection is gone (client closed, write failed)

  // The client's (client.h): what a URL, a request or a server can get wrong.
  badURL = 100,           // a URL that does not parse, or has no host
  unsupportedScheme,      // a scheme other than http and https
  badRequest,             // an invalid method or header field in an outgoing request
  requestBodyLength,      // the request body's length differs from its ContentLength
  dialTimeout,            // the connection was not established within the dial timeout
  timeout,                // the whole exchange passed ClientOptions::timeout
  responseHeaderTimeout,  // no response head within ClientOptions::response_header_timeout
  connClosedEarly,        // the server closed the connection before any response byte
  unexpectedEOF,          // the connection ended inside a response (head or body)
  malformedResponse,      // a status line or header the reader refused
  malformedBody,          // bad chunked framing in a response body
  unsupportedEncoding,    // a Transfer-Encoding other than chunked
  headerTooLarge,         // a response head past ClientOptions::max_response_header_bytes
  tooManyRedirects,       // the redirect limit (10 unless configured)
  badLocation,            // a redirect whose Location does not parse
  useLastResponse,        // CheckRedirect's way to stop and keep the redirect response
  bodyClosed,             // a read on a response body after Close
  switchingProtocols,     // a 101 answer: protocol upgrades are not supported
  tooManyInterim,         // more than 5 interim (1xx) responses before the final one
};

namespace detail {
class errorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.http"; }
  std::string message(int c) const override {
    switch (Errc(c)) {
      case Errc::serverClosed: return "http: Server closed";
      case Errc::bodyTooLarge: return "http: request body too large";
      case Errc::bodyMalformed: return "http: malformed request body";
      case Errc::hijacked: return "http: connection has been hijacked";
      case Errc::notSupported: return "http: not supported by this connection";
      case Errc::contentLength: return "http: wrote more than the declared Content-Length";
      case Errc::badStatus: return "http: invalid status code";
      case Errc::abortHandler: return "http: connection closed";
      case Errc::badURL: return "http: invalid URL";
      case Errc::unsupportedScheme: return "http: unsupported protocol scheme";
      case Errc::badRequest: return "http: invalid method or header field in request";
      case Errc::requestBodyLength: return "http: request body length does not match ContentLength";
      case Errc::dialTimeout: return "http: timeout dialing the server";
      case Errc::timeout: return "http: Client.Timeout exceeded";
      case Errc::responseHeaderTimeout: return "http: timeout awaiting response headers";
      case Errc::connClosedEarly: return "http: server closed the connection before sending a response";
      case Errc::unexpectedEOF: return "http: unexpected EOF reading the response";
      case Errc::malformedResponse: return "http: malformed HTTP response";
      case Errc::malformedBody: return "http: malformed chunked encoding in the response body";
      case Errc::unsupportedEncoding: return "http: unsupported transfer encoding in the response";
      case Errc::headerTooLarge: return "http: server response headers exceeded the limit";
      case Errc::tooManyRedirects: return "http: stopped after too many redirects";
      case Errc::badLocation: return "http: failed to parse the Location header of a redirect";
      case Errc::useLastResponse: return "http: use last response";
      case Errc::bodyClosed: return "http: read on closed response body";
      case Errc::switchingProtocols: return "http: protocol switch (101) not supported by the client";
      case Errc::tooManyInterim: return "http: too many 1xx informational responses";
    }
    return "unknown ringo.http error";
  }
};
}  // namespace detail

inline const std::error_category& ErrorCategory() noexcept {
  static const detail::errorCategory c;
  return c;
}
inline std::error_code make_error_code(Errc e) noexcept { return {int(e), ErrorCategory()}; }

inline const std::error_code ErrServerClosed = make_error_code(Errc::serverClosed);
inline const std::error_code ErrBodyTooLarge = make_error_code(Errc::bodyTooLarge);
inline const std::error_code ErrHijacked = make_error_code(Errc::hijacked);
inline const std::error_code ErrNotSupported = make_error_code(Errc::notSupported);
inline const std::error_code ErrContentLength = make_error_code(Errc::contentLength);
// ErrUseLastResponse, returned by ClientOptions::check_redirect, makes Do
// return the redirect response itself (its body unread), with no error.
inline const std::error_code ErrUseLastResponse = make_error_code(Errc::useLastResponse);
inline const std::error_code ErrBodyReadAfterClose = make_error_code(Errc::bodyClosed);

}  // namespace ringo::http

template <>
struct std::is_error_code_enum<ringo::http::Errc> : std::true_type {};
