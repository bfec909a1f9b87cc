//! The pages: each handler calls the API with the session's token and renders a
//! template. Shared here: the signed-in extractor, the page chrome, CSRF checks,
//! errors, assets.

pub mod auth;
pub mod flows;
pub mod functions;
pub mod networks;
pub mod operator;
pub mod peerings;
pub mod reach;
pub mod topology;

use askama::Template;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::Console;
use crate::client::{Client, Refusal};
use crate::session::{Session, cookie_value, same_secret};

/// The signed-in session of a request; without one, the browser is sent to the
/// sign-in page.
pub struct Signed(pub Session);

impl FromRequestParts<Console> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Signed, Response> {
        let id = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(cookie_value);
        match id.and_then(|id| c.sessions.get(id)) {
            Some(s) => Ok(Signed(s)),
            None => Err(Redirect::to("/console/sign-in").into_response()),
        }
    }
}

impl Signed {
    /// A client of the API acting with this session's token.
    pub fn client<'a>(&'a self, c: &'a Console) -> Client<'a> {
        Client::new(&c.api, &self.0.token)
    }

    /// The chrome of a page of this session.
    pub fn chrome(&self, active: &'static str, title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            active,
            user: Some(self.0.display_name()),
            account: self.0.who.account_id.clone(),
            admin: self.0.is_admin(),
            csrf: self.0.csrf.clone(),
            css: crate::assets::path_of("console.css"),
            js: crate::assets::path_of("htmx.min.js"),
            error: None,
            notice: None,
        }
    }

    /// The refusal of a form whose CSRF token is not this session's (`None`: the
    /// form is this session's).
    pub fn csrf_refusal(&self, sent: &str) -> Option<Response> {
        (!same_secret(sent, &self.0.csrf)).then(|| {
            message_page(
                StatusCode::FORBIDDEN,
                "The form is stale",
                "The form was not sent from this session's page (CSRF check). Reload the page and send it again.",
            )
        })
    }
}

/// An API refusal as a page shows it.
#[derive(Debug, Clone)]
pub struct ErrorView {
    /// The code.
    pub code: String,
    /// The message.
    pub message: String,
    /// The field.
    pub field: String,
    /// What to do.
    pub hint: String,
}

impl From<&Refusal> for ErrorView {
    fn from(r: &Refusal) -> ErrorView {
        ErrorView {
            code: r.code.clone(),
            message: r.message.clone(),
            field: r.field.clone().unwrap_or_default(),
            hint: r.hint.clone(),
        }
    }
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's title.
    pub title: String,
    /// Which navigation entry is current.
    pub active: &'static str,
    /// Who is signed in.
    pub user: Option<String>,
    /// Their account id.
    pub account: Option<String>,
    /// Whether it is the operator.
    pub admin: bool,
    /// The CSRF token forms carry.
    pub csrf: String,
    /// The stylesheet's path.
    pub css: String,
    /// htmx's path.
    pub js: String,
    /// An API refusal to show.
    pub error: Option<ErrorView>,
    /// A notice to show.
    pub notice: Option<String>,
}

impl Chrome {
    /// The chrome of a page without a session.
    pub fn anonymous(title: &str) -> Chrome {
        Chrome {
            title: title.to_owned(),
            active: "",
            user: None,
            account: None,
            admin: false,
            csrf: String::new(),
            css: crate::assets::path_of("console.css"),
            js: crate::assets::path_of("htmx.min.js"),
            error: None,
            notice: None,
        }
    }

    /// `aria-current="page"` for the current entry.
    pub fn current(&self, entry: &str) -> &'static str {
        if self.active == entry {
            "page"
        } else {
            "false"
        }
    }
}

/// Renders `t` as an HTML answer.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be rendered: {e}"),
        )
            .into_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    heading: String,
    text: String,
}

/// A page that only says something.
pub fn message_page(status: StatusCode, heading: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            c: Chrome::anonymous(heading),
            heading: heading.to_owned(),
            text: text.to_owned(),
        },
    )
}

/// What a page does with a refusal it cannot show in place: a revoked token ends
/// the session; anything else is a page naming the API's error.
pub fn refusal_page(c: &Console, s: &Signed, r: &Refusal) -> Response {
    if r.is_auth() {
        c.sessions.end(&s.0.id);
        return Redirect::to("/console/sign-in").into_response();
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY);
    message_page(
        status,
        &format!("{} ({})", r.code, r.status),
        &r.to_string(),
    )
}

/// 404 for paths the console does not have.
pub async fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "The console has no such page. Use the navigation above.",
    )
}

/// An embedded asset.
pub async fn asset(Path((hash, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(a) = crate::assets::find(&hash, &name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut resp = if gzip {
        let mut r = a.gzip.clone().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        a.asset.bytes.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    resp
}

/// A form's text field, trimmed; `None` when empty.
pub fn given(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(1_780_000_000), "2026-05-28 20:26:40 UTC");
        assert_eq!(time(951_825_600), "2000-02-29 12:00:00 UTC");
    }
}
