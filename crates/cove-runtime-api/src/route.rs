//! Which Runtime API operation a request line names (pure).

use crate::state::ResponseKind;

/// The API version prefix every path carries.
pub const VERSION_PREFIX: &str = "/2018-06-01";

/// A routed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /2018-06-01/runtime/invocation/next`.
    Next,
    /// `POST /2018-06-01/runtime/invocation/{id}/response` or `…/error`.
    Answer {
        /// The `{id}` path segment.
        request_id: &'a str,
        /// Response or error.
        kind: ResponseKind,
    },
    /// `POST /2018-06-01/runtime/init/error`.
    InitError,
    /// The path exists, the method does not; `allow` lists the one that does.
    MethodNotAllowed {
        /// The method the path accepts.
        allow: &'static str,
    },
    /// No such path: `404 page not found`, as Lambda's router answers.
    NotFound,
}

/// Routes `method` and `path` (the query, if any, is ignored).
pub fn route<'a>(method: &str, path: &'a str) -> Route<'a> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let Some(rest) = path
        .strip_prefix(VERSION_PREFIX)
        .and_then(|p| p.strip_prefix("/runtime/"))
    else {
        return Route::NotFound;
    };
    let (found, allow) = match rest {
        "invocation/next" => (Route::Next, "GET"),
        "init/error" => (Route::InitError, "POST"),
        _ => match rest
            .strip_prefix("invocation/")
            .and_then(|r| r.split_once('/'))
        {
            Some((request_id, tail)) if !request_id.is_empty() => {
                let kind = match tail {
                    "response" => ResponseKind::Response,
                    "error" => ResponseKind::Error,
                    _ => return Route::NotFound,
                };
                (Route::Answer { request_id, kind }, "POST")
            }
            _ => return Route::NotFound,
        },
    };
    if method == allow {
        found
    } else {
        Route::MethodNotAllowed { allow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_operations_route() {
        assert_eq!(
            route("GET", "/2018-06-01/runtime/invocation/next"),
            Route::Next
        );
        assert_eq!(
            route("POST", "/2018-06-01/runtime/init/error"),
            Route::InitError
        );
        assert_eq!(
            route("POST", "/2018-06-01/runtime/invocation/abc-1/response"),
            Route::Answer {
                request_id: "abc-1",
                kind: ResponseKind::Response
            }
        );
        assert_eq!(
            route("POST", "/2018-06-01/runtime/invocation/abc-1/error?x=1"),
            Route::Answer {
                request_id: "abc-1",
                kind: ResponseKind::Error
            }
        );
    }

    #[test]
    fn wrong_methods_name_the_right_one() {
        assert_eq!(
            route("POST", "/2018-06-01/runtime/invocation/next"),
            Route::MethodNotAllowed { allow: "GET" }
        );
        assert_eq!(
            route("GET", "/2018-06-01/runtime/init/error"),
            Route::MethodNotAllowed { allow: "POST" }
        );
        assert_eq!(
            route("PUT", "/2018-06-01/runtime/invocation/a/response"),
            Route::MethodNotAllowed { allow: "POST" }
        );
    }

    #[test]
    fn everything_else_is_not_found() {
        for path in [
            "/",
            "/2018-06-01",
            "/2018-06-01/runtime/invocation",
            "/2018-06-01/runtime/invocation/next/",
            "/2018-06-01/runtime/invocation//response",
            "/2018-06-01/runtime/invocation/a/b/response",
            "/2018-06-01/runtime/invocation/a/result",
            "/2018-06-01/runtime/restore/next",
            "/2020-01-01/runtime/invocation/next",
            "/2018-06-01/extension/register",
            "/runtime/invocation/next",
        ] {
            assert_eq!(route("GET", path), Route::NotFound, "{path}");
            assert_eq!(route("POST", path), Route::NotFound, "{path}");
        }
    }
}
