//! Signed-in sessions: a random session id in a cookie (`HttpOnly`, `Secure`,
//! `SameSite=Strict`, path `/console`) maps to the API token on the server; the
//! token never reaches the browser again after the sign-in form. Each session has a
//! CSRF token every form sends back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cove_api::whoami::WhoAmI;

/// The cookie's name.
pub const COOKIE: &str = "cove_console";
/// How long a session lasts without use.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest expire first past it).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's id (the cookie's value).
    pub id: String,
    /// The API token it acts with.
    pub token: String,
    /// Who the token is.
    pub who: WhoAmI,
    /// What every form sends back.
    pub csrf: String,
    last_used: Instant,
}

impl Session {
    /// Whether it is the operator's.
    pub fn is_admin(&self) -> bool {
        self.who.kind == "admin"
    }

    /// The name shown in the header.
    pub fn display_name(&self) -> String {
        match &self.who.tenant_name {
            Some(n) => n.clone(),
            None => "operator".to_owned(),
        }
    }
}

/// The sessions of one console.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex.
pub fn random_id() -> String {
    let mut b = [0u8; 32];
    // Without randomness there is no safe session: fail closed with an id nobody
    // can guess because it is never issued (the sign-in reports the error).
    if getrandom::fill(&mut b).is_err() {
        return String::new();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Starts a session for `token` (already checked: `who`). `None` when no
    /// random id could be made.
    pub fn start(&self, token: String, who: WhoAmI) -> Option<Session> {
        let id = random_id();
        let csrf = random_id();
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let s = Session {
            id: id.clone(),
            token,
            who,
            csrf,
            last_used: Instant::now(),
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.last_used.elapsed() < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .values()
                .min_by_key(|s| s.last_used)
                .map(|s| s.id.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id, s.clone());
        Some(s)
    }

    /// The live session of `id` (its use noted).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.get_mut(id)?;
        if s.last_used.elapsed() >= IDLE {
            map.remove(id);
            return None;
        }
        s.last_used = Instant::now();
        Some(s.clone())
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `Set-Cookie` value that keeps `id`.
pub fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/console; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        IDLE.as_secs()
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/console; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The session id in a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> WhoAmI {
        WhoAmI {
            kind: "tenant".into(),
            token_id: "tok-1".into(),
            tenant_id: Some("ten-1".into()),
            tenant_name: Some("acme".into()),
            account_id: Some("111111111111".into()),
        }
    }

    #[test]
    fn a_session_is_found_by_its_id_only_until_it_ends() {
        let s = Sessions::default();
        let a = s.start("cove_secret".into(), who()).expect("session");
        assert_eq!(a.id.len(), 64);
        assert_ne!(a.id, a.csrf);
        assert_eq!(s.get(&a.id).expect("live").token, "cove_secret");
        assert!(s.get("nope").is_none());
        s.end(&a.id);
        assert!(s.get(&a.id).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn the_cookie_is_http_only_secure_and_strict() {
        let c = set_cookie("abc");
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
            assert!(c.contains(part), "{c}");
        }
        assert_eq!(cookie_value("a=1; cove_console=abc; b=2"), Some("abc"));
        assert_eq!(cookie_value("cove_console="), None);
        assert_eq!(cookie_value("other=abc"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
