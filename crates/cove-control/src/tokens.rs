//! API tokens: 256-bit secrets (`cove_` + base32), stored as SHA-256 hashes, shown
//! once, revocable, optionally expiring; and authentication by hash lookup.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{Env, Fresh, TenantId, TokenId, UnixTime, base32, sha256_hex};
use crate::state::{Actor, Change, ControlState, Object, Outcome};
use crate::tenants::tenant_not_found;
use crate::types::{NewToken, Token, TokenInfo, TokenOwner};

/// Every secret starts with this (so leaked tokens are recognizable by scanners).
pub const SECRET_PREFIX: &str = "cove_";

/// Most live (not revoked, not expired) tokens of one owner.
pub const MAX_LIVE_TOKENS: usize = 100;

/// Longest token description.
const MAX_DESCRIPTION: usize = 256;

/// `POST /v1/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreateToken {
    /// The tenant it acts for. A tenant may omit it (its own); the operator omits it
    /// for another admin token.
    pub tenant: Option<TenantId>,
    /// When it stops working (after now, and no later than the caller's token);
    /// when omitted, with the caller's token (never, if that one never expires).
    pub expires_at: Option<UnixTime>,
    /// Free text (at most 256 characters).
    pub description: Option<String>,
}

/// The first admin token, made at the service's first start (no caller yet). Refused
/// once a live admin token exists: the operator then makes more with its token.
pub fn bootstrap_admin(state: &ControlState, env: &Env) -> Result<Outcome<NewToken>> {
    if state
        .tokens
        .values()
        .any(|t| t.owner == TokenOwner::Admin && t.is_live(env.now))
    {
        return Err(ControlError::general(
            ErrorCode::OperationNotPermitted,
            "an admin token already exists",
            "create further admin tokens with the existing one",
        ));
    }
    Ok(mint(
        state,
        env,
        TokenOwner::Admin,
        None,
        Some("bootstrap".to_owned()),
        None,
    ))
}

/// Creates a token. The operator makes tokens for any tenant (or admin tokens); a
/// tenant makes tokens for itself only (naming another tenant is not found).
pub fn create_token(
    state: &ControlState,
    actor: &Actor,
    env: &Env,
    req: CreateToken,
) -> Result<Outcome<NewToken>> {
    let owner = match (actor, req.tenant) {
        (Actor::Admin { .. }, None) => TokenOwner::Admin,
        (Actor::Admin { .. }, Some(t)) => {
            if !state.tenants.contains_key(&t) {
                return Err(tenant_not_found(&t));
            }
            TokenOwner::Tenant(t)
        }
        (Actor::Tenant { tenant, .. }, None) => TokenOwner::Tenant(tenant.clone()),
        (Actor::Tenant { tenant, .. }, Some(t)) => {
            if &t != tenant {
                return Err(tenant_not_found(&t));
            }
            TokenOwner::Tenant(t)
        }
    };
    // A token never outlives the token that made it: an expiring token cannot mint
    // one that keeps working after it.
    let limit = state
        .tokens
        .values()
        .find(|t| &t.id == actor.token())
        .and_then(|t| t.expires_at);
    let expires_at = match (req.expires_at, limit) {
        (None, limit) => limit,
        (Some(e), Some(l)) if e > l => {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                "expires_at",
                format!(
                    "the expiry {} is after the expiry of the token you are using ({})",
                    e.0, l.0
                ),
                "give a time no later than your token's expiry, or omit it (the new token then expires with yours)",
            ));
        }
        (Some(e), _) => Some(e),
    };
    if let Some(e) = req.expires_at
        && e <= env.now
    {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "expires_at",
            format!("the expiry {} is not after now ({})", e.0, env.now.0),
            "give a time in the future (seconds since the Unix epoch), or omit it",
        ));
    }
    if let Some(d) = &req.description
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "description",
            format!("the description has {} characters", d.chars().count()),
            format!("use at most {MAX_DESCRIPTION}"),
        ));
    }
    let live = state
        .tokens
        .values()
        .filter(|t| t.owner == owner && t.is_live(env.now))
        .count();
    if live >= MAX_LIVE_TOKENS {
        return Err(ControlError::general(
            ErrorCode::TokenLimitExceeded,
            format!("there are already {live} live tokens"),
            "revoke tokens you no longer use",
        ));
    }
    let created_by = Some(actor.token().clone());
    Ok(mint(
        state,
        env,
        owner,
        expires_at,
        req.description,
        created_by,
    ))
}

fn mint(
    state: &ControlState,
    env: &Env,
    owner: TokenOwner,
    expires_at: Option<UnixTime>,
    description: Option<String>,
    created_by: Option<TokenId>,
) -> Outcome<NewToken> {
    let taken = state.taken_ids();
    let mut fresh = Fresh::new(env, &taken);
    let id = TokenId(fresh.id(TokenId::PREFIX));
    let secret = format!("{SECRET_PREFIX}{}", base32(&fresh.secret()));
    let token = Token {
        id,
        owner,
        hash: sha256_hex(secret.as_bytes()),
        description,
        created_at: env.now,
        expires_at,
        revoked_at: None,
        created_by,
    };
    Outcome {
        value: NewToken {
            token: token.info(),
            secret,
        },
        changes: vec![Change::Put(Object::Token(token))],
    }
}

/// The tokens the caller may see: a tenant's own, or (operator) all of them.
pub fn list_tokens(state: &ControlState, actor: &Actor) -> Vec<TokenInfo> {
    let mut v: Vec<&Token> = state
        .tokens
        .values()
        .filter(|t| match actor.tenant() {
            None => true,
            Some(own) => t.owner == TokenOwner::Tenant(own.clone()),
        })
        .collect();
    v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    v.into_iter().map(Token::info).collect()
}

/// Revokes a token at once, and with it every token it made for the same owner
/// (and theirs) — except the token making this request, so that rotating (make a
/// new token with the old one, then revoke the old one with the new one) keeps the
/// new one; revoking twice changes nothing. A tenant revokes its own tokens
/// only: another's is not found.
pub fn revoke_token(
    state: &ControlState,
    actor: &Actor,
    env: &Env,
    id: &TokenId,
) -> Result<Outcome<TokenInfo>> {
    let found = state.tokens.values().find(|t| {
        &t.id == id
            && match actor.tenant() {
                None => true,
                Some(own) => t.owner == TokenOwner::Tenant(own.clone()),
            }
    });
    let Some(t) = found else {
        return Err(ControlError::field(
            ErrorCode::InvalidTokenIdNotFound,
            "id",
            format!("token `{id}` does not exist"),
            "list your tokens to find its id",
        ));
    };
    // With it, every token it made for the same owner (and theirs, …): a leaked
    // token's copies go with it. Tokens it made for others are the operator's to
    // revoke one by one (they are listed with `created_by`).
    let mut changes = Vec::new();
    let mut frontier = vec![t.id.clone()];
    let mut value = None;
    while let Some(id) = frontier.pop() {
        for x in state.tokens.values() {
            let is_it = x.id == id && value.is_none();
            let child =
                x.created_by.as_ref() == Some(&id) && x.owner == t.owner && &x.id != actor.token();
            if !is_it && !child {
                continue;
            }
            if child {
                frontier.push(x.id.clone());
            }
            let mut x = x.clone();
            if x.revoked_at.is_none() {
                x.revoked_at = Some(env.now);
                changes.push(Change::Put(Object::Token(x.clone())));
            }
            if is_it {
                value = Some(x.info());
            }
        }
    }
    Ok(Outcome {
        value: value.unwrap_or_else(|| t.info()),
        changes,
    })
}

/// Finds who a presented secret acts for at `now`: unknown, revoked and expired
/// tokens, and tokens of a tenant that no longer exists, are `AuthFailure` (401).
pub fn authenticate(state: &ControlState, secret: &str, now: UnixTime) -> Result<Actor> {
    let fail = |why: &str| {
        ControlError::general(
            ErrorCode::AuthFailure,
            format!("the token {why}"),
            "send a valid token as `Authorization: Bearer cove_…`; ask for a new one if it was revoked or expired",
        )
    };
    if !secret.starts_with(SECRET_PREFIX) {
        return Err(fail("is not a cove token (they start with `cove_`)"));
    }
    let Some(t) = state.tokens.get(&sha256_hex(secret.as_bytes())) else {
        return Err(fail("is not valid"));
    };
    if t.revoked_at.is_some() {
        return Err(fail("was revoked"));
    }
    if let Some(e) = t.expires_at
        && now >= e
    {
        return Err(fail("has expired"));
    }
    match &t.owner {
        TokenOwner::Admin => Ok(Actor::Admin {
            token: t.id.clone(),
        }),
        TokenOwner::Tenant(tenant) => {
            if !state.tenants.contains_key(tenant) {
                return Err(fail("is not valid"));
            }
            Ok(Actor::Tenant {
                tenant: tenant.clone(),
                token: t.id.clone(),
            })
        }
    }
}
