// http.h — ringo's HTTP/1.1 server and client: everything in one include.
//
//   #include <ringo/http.h>
//   namespace http = ringo::http;
#pragma once

#include "ringo/http/client.h"
#include "ringo/http/cookie.h"
#include "ringo/http/errors.h"
#include "ringo/http/handler.h"
#include "ringo/http/header.h"
#include "ringo/http/log.h"
#include "ringo/http/mux.h"
#include "ringo/http/request.h"
#include "ringo/http/response.h"
#include "ringo/http/server.h"
#include "ringo/http/stats.h"
#include "ringo/http/status.h"
#include "ringo/http/url.h"
