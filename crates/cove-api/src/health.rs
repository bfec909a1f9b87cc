//! `GET /v1/health` (the operator's): how this host is doing — the reconciler's
//! last ticks (in sync, applying, failing, following another leader) and the
//! store's generation — from a [`HealthBoard`] the serving process updates.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;

/// What one reconciler tick did, as the board records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickReport {
    /// Kernel changes were applied for `generation`.
    Applied {
        /// The generation realized.
        generation: u64,
        /// Kernel operations.
        ops: usize,
        /// Whether drift was repaired.
        drift: bool,
    },
    /// The kernel already matched.
    InSync,
    /// Another process leads.
    Follower {
        /// Who leads.
        leader: String,
    },
    /// Nothing desired yet, or the lock was busy.
    Idle,
    /// The tick failed (the whole error chain).
    Failed {
        /// Why.
        error: String,
    },
}

/// The host's health as the serving process records it.
#[derive(Debug)]
pub struct HealthBoard {
    started: Instant,
    state: Mutex<BoardState>,
}

#[derive(Debug, Default)]
struct BoardState {
    last: Option<(u64, TickReport)>,
    last_applied: Option<(u64, u64, usize, bool)>,
    last_error: Option<(u64, String)>,
    failures_in_a_row: u64,
    ticks: u64,
}

impl Default for HealthBoard {
    fn default() -> Self {
        HealthBoard {
            started: Instant::now(),
            state: Mutex::new(BoardState::default()),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl HealthBoard {
    /// Records a tick.
    pub fn record(&self, tick: TickReport) {
        let now = unix_now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.ticks += 1;
        match &tick {
            TickReport::Applied {
                generation,
                ops,
                drift,
            } => {
                s.last_applied = Some((now, *generation, *ops, *drift));
                s.failures_in_a_row = 0;
            }
            TickReport::Failed { error } => {
                s.last_error = Some((now, error.clone()));
                s.failures_in_a_row += 1;
            }
            _ => s.failures_in_a_row = 0,
        }
        s.last = Some((now, tick));
    }

    /// The report (pure apart from the clock).
    pub fn report(&self, store_generation: u64) -> HostHealth {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (state, leader) = match s.last.as_ref().map(|(_, t)| t) {
            None => ("starting", None),
            Some(TickReport::Applied { .. } | TickReport::InSync | TickReport::Idle) => {
                ("in-sync", None)
            }
            Some(TickReport::Follower { leader }) => ("follower", Some(leader.clone())),
            Some(TickReport::Failed { .. }) => ("failing", None),
        };
        HostHealth {
            status: if s.failures_in_a_row == 0 {
                "ok"
            } else {
                "degraded"
            }
            .to_owned(),
            uptime_seconds: self.started.elapsed().as_secs(),
            store_generation,
            reconciler: ReconcilerHealth {
                state: state.to_owned(),
                leader,
                ticks: s.ticks,
                last_tick_at: s.last.as_ref().map(|(t, _)| *t),
                last_applied_at: s.last_applied.map(|a| a.0),
                last_applied_generation: s.last_applied.map(|a| a.1),
                last_applied_ops: s.last_applied.map(|a| a.2),
                last_drift_repaired: s.last_applied.is_some_and(|a| a.3),
                failures_in_a_row: s.failures_in_a_row,
                last_error: s.last_error.as_ref().map(|e| e.1.clone()),
                last_error_at: s.last_error.as_ref().map(|e| e.0),
            },
        }
    }
}

/// The host's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HostHealth {
    /// `ok`, or `degraded` while the reconciler fails.
    pub status: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// The store's latest generation.
    pub store_generation: u64,
    /// The reconciler.
    pub reconciler: ReconcilerHealth,
}

/// The reconciler's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconcilerHealth {
    /// `starting`, `in-sync`, `follower` or `failing`.
    pub state: String,
    /// The leader, when this process follows.
    pub leader: Option<String>,
    /// Ticks since the start.
    pub ticks: u64,
    /// When the last tick ran (Unix seconds).
    pub last_tick_at: Option<u64>,
    /// When kernel changes were last applied.
    pub last_applied_at: Option<u64>,
    /// The generation they realized.
    pub last_applied_generation: Option<u64>,
    /// How many kernel operations they took.
    pub last_applied_ops: Option<usize>,
    /// Whether they repaired drift.
    pub last_drift_repaired: bool,
    /// Failed ticks since the last good one.
    pub failures_in_a_row: u64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<u64>,
}

/// The host's health (the operator's token only).
#[utoipa::path(get, path = "/v1/health", tag = "admin",
    responses((status = 200, body = HostHealth), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn health(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<HostHealth>, ApiError> {
    if caller.actor.tenant().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "UnauthorizedOperation",
            None,
            "the host's health is the operator's",
            "call it with the admin token",
        ));
    }
    let board = api.health.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            None,
            "this server does not reconcile, so it has no host health",
            "ask the `cove serve` that reconciles the deployment",
        )
    })?;
    let cur = api.service.current().await?;
    Ok(Json(
        board.report(u64::try_from(cur.generation.0).unwrap_or(0)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_degrade_and_a_good_tick_recovers() {
        let b = HealthBoard::default();
        assert_eq!(b.report(1).reconciler.state, "starting");
        b.record(TickReport::Applied {
            generation: 4,
            ops: 12,
            drift: true,
        });
        let r = b.report(4);
        assert_eq!(r.status, "ok");
        assert_eq!(r.reconciler.last_applied_generation, Some(4));
        assert!(r.reconciler.last_drift_repaired);
        b.record(TickReport::Failed {
            error: "netlink: busy".to_owned(),
        });
        b.record(TickReport::Failed {
            error: "netlink: busy".to_owned(),
        });
        let r = b.report(5);
        assert_eq!(
            (r.status.as_str(), r.reconciler.state.as_str()),
            ("degraded", "failing")
        );
        assert_eq!(r.reconciler.failures_in_a_row, 2);
        assert_eq!(r.reconciler.last_error.as_deref(), Some("netlink: busy"));
        b.record(TickReport::InSync);
        let r = b.report(5);
        assert_eq!(
            (r.status.as_str(), r.reconciler.state.as_str()),
            ("ok", "in-sync")
        );
        assert_eq!(r.reconciler.last_error.as_deref(), Some("netlink: busy"));
        assert_eq!(r.reconciler.ticks, 4);
    }

    #[test]
    fn a_follower_names_its_leader() {
        let b = HealthBoard::default();
        b.record(TickReport::Follower {
            leader: "host-b:123".to_owned(),
        });
        let r = b.report(1);
        assert_eq!(r.reconciler.state, "follower");
        assert_eq!(r.reconciler.leader.as_deref(), Some("host-b:123"));
    }
}
