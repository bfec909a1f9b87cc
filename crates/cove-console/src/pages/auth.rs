//! Signing in and out.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, ErrorView, Signed, render};
use crate::Console;
use crate::client::Client;
use crate::session::{clear_cookie, set_cookie};

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    c: Chrome,
}

/// `/console/`: the operator's view or the tenant's networks.
pub async fn index(s: Result<Signed, Response>) -> Response {
    match s {
        Ok(s) if s.0.is_admin() => Redirect::to("/console/operator").into_response(),
        Ok(_) => Redirect::to("/console/networks").into_response(),
        Err(r) => r,
    }
}

/// The sign-in form.
pub async fn sign_in_form() -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            c: Chrome::anonymous("Sign in"),
        },
    )
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    token: String,
}

/// Checks the token with the API (`GET /v1/whoami`) and starts a session.
pub async fn sign_in(State(c): State<Console>, Form(f): Form<SignInForm>) -> Response {
    let token = f.token.trim().to_owned();
    let who = Client::new(&c.api, &token)
        .get::<cove_api::whoami::WhoAmI>("/v1/whoami")
        .await;
    let who = match who {
        Ok(w) => w,
        Err(r) => {
            let mut chrome = Chrome::anonymous("Sign in");
            chrome.error = Some(ErrorView {
                code: r.code.clone(),
                message: if r.is_auth() {
                    "the token was refused (unknown, expired or revoked)".to_owned()
                } else {
                    r.message.clone()
                },
                field: "token".to_owned(),
                hint: "paste a valid API token (`cove token create`)".to_owned(),
            });
            let status = if r.is_auth() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_GATEWAY
            };
            return render(status, &SignInPage { c: chrome });
        }
    };
    let Some(session) = c.sessions.start(token, who) else {
        return super::message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot sign in",
            "The server could not make a random session id. Try again.",
        );
    };
    let mut resp = Redirect::to("/console/").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&session.id)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The sign-out form's fields.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// Ends the session.
pub async fn sign_out(State(c): State<Console>, s: Signed, Form(f): Form<CsrfForm>) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    c.sessions.end(&s.0.id);
    let mut resp = Redirect::to("/console/sign-in").into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
