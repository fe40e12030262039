//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO (client-side
//! caching; the rows are in `connection`'s CLIENT container), with Redis
//! 7.0.15's replies and errors, checked in its order.

use super::{parse_int, Ctx};
use crate::exchange::Merge;
use crate::resp::encode;
use crate::tracking::State;
use shards::ops::server::SrvOp;
use shards::tracking::Tracker;
use std::sync::Arc;

/// Redis's `stringCheckPrefix`: one is a prefix of the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]
pub(super) fn client_tracking(ctx: &mut Ctx) {
    let mut redirect: i64 = 0;
    let mut target = None;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    let n = ctx.args.len();
    let mut j = 3;
    while j < n {
        let opt = ctx.args.get(j);
        let more = j + 1 < n;
        if opt.eq_ignore_ascii_case(b"redirect") && more {
            j += 1;
            if redirect != 0 {
                return ctx.error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = parse_int(ctx.args.get(j)) else {
                return ctx.error("ERR value is not an integer or out of range");
            };
            // The client must exist now (it may go away later).
            let found = (id > 0)
                .then(|| {
                    ctx.shared
                        .registry
                        .snapshot()
                        .into_iter()
                        .find(|c| c.id == id as u64)
                })
                .flatten();
            let Some(c) = found else {
                return ctx.error("ERR The client ID you want redirect to does not exist");
            };
            redirect = id;
            target = Some(crate::pubsub::Subscriber {
                worker: c.worker as u32,
                token: c.token as u32,
                id: c.id,
            });
        } else if opt.eq_ignore_ascii_case(b"bcast") {
            bcast = true;
        } else if opt.eq_ignore_ascii_case(b"optin") {
            optin = true;
        } else if opt.eq_ignore_ascii_case(b"optout") {
            optout = true;
        } else if opt.eq_ignore_ascii_case(b"noloop") {
            noloop = true;
        } else if opt.eq_ignore_ascii_case(b"prefix") && more {
            j += 1;
            prefixes.push(ctx.args.get(j).to_vec());
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let mode = ctx.args.get(2);
    if mode.eq_ignore_ascii_case(b"off") {
        return tracking_off(ctx);
    }
    if !mode.eq_ignore_ascii_case(b"on") {
        return ctx.syntax_error();
    }
    let old = ctx.session.tracking.as_deref().cloned();
    if !bcast && !prefixes.is_empty() {
        return ctx.error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if old.as_ref().is_some_and(|o| o.bcast != bcast) {
        return ctx.error(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, \
             and then re-enabling it with a different mode.",
        );
    }
    if bcast && (optin || optout) {
        return ctx.error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if optin && optout {
        return ctx.error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if old
        .as_ref()
        .is_some_and(|o| (optin && o.optout) || (optout && o.optin))
    {
        return ctx.error(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, \
             and then re-enabling it with a different mode.",
        );
    }
    let mut all = old.map(|o| o.prefixes).unwrap_or_default();
    if bcast {
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(e) = all.iter().find(|e| overlap(e, p)) {
                return ctx.error(&format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. \
                     Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(e)
                ));
            }
            if let Some(q) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return ctx.error(&format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. \
                     Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(q)
                ));
            }
        }
        // BCAST without a prefix: every key (the empty prefix).
        if prefixes.is_empty() {
            prefixes.push(Vec::new());
        }
        for p in prefixes {
            if !all.contains(&p) {
                all.push(p);
            }
        }
        all.sort();
    }
    let state = State {
        redirect: redirect as u64,
        target,
        bcast,
        optin,
        optout,
        noloop,
        prefixes: all,
        caching: false,
        broken: false,
    };
    let me = ctx.session.subscriber();
    let to = state.target.unwrap_or(me);
    let tracker = Tracker {
        client: me.id,
        worker: to.worker,
        token: to.token,
        to: to.id,
        redirect: state.redirect != 0,
        noloop,
        remember: false,
    };
    ctx.shared.tracking.on(tracker, me);
    if bcast {
        // Every shard keeps the prefixes beside its keys.
        let prefixes = Arc::new(state.prefixes.clone());
        ctx.router.begin(ctx.conn, Merge::AllOk);
        ctx.router.each_shard_op(0, |_| {
            SrvOp::TrackPrefixes {
                tracker,
                prefixes: prefixes.clone(),
            }
            .into()
        });
    } else {
        ctx.reply(encode::ok);
    }
    ctx.session.tracking = Some(Box::new(state));
}

/// CLIENT TRACKING OFF (Redis's `disableTracking`).
fn tracking_off(ctx: &mut Ctx) {
    let was = ctx.session.tracking.take();
    if was.is_some() {
        ctx.shared.tracking.off(ctx.session.id);
    }
    if was.is_some_and(|w| w.bcast) {
        let client = ctx.session.id;
        ctx.router.begin(ctx.conn, Merge::AllOk);
        ctx.router
            .each_shard_op(0, |_| SrvOp::Untrack { client }.into());
    } else {
        ctx.reply(encode::ok);
    }
}

/// Turns tracking off without a reply of its own (RESET): the shards
/// forget a BCAST client's prefixes in the same round.
pub(super) fn reset_tracking(ctx: &mut Ctx) {
    if let Some(was) = ctx.session.tracking.take() {
        ctx.shared.tracking.off(ctx.session.id);
        if was.bcast {
            let client = ctx.session.id;
            ctx.router.begin(crate::exchange::NO_CONN, Merge::AllOk);
            ctx.router
                .each_shard_op(0, |_| SrvOp::Untrack { client }.into());
        }
    }
}

/// CLIENT CACHING YES|NO
pub(super) fn client_caching(ctx: &mut Ctx) {
    let Some(t) = ctx.session.tracking.as_deref_mut() else {
        return ctx.error(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with \
             OPTIN or OPTOUT mode enabled",
        );
    };
    let opt = ctx.args.get(2);
    if opt.eq_ignore_ascii_case(b"yes") {
        if !t.optin {
            return ctx.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if opt.eq_ignore_ascii_case(b"no") {
        if !t.optout {
            return ctx.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.syntax_error();
    }
    t.caching = true;
    ctx.reply(encode::ok);
}

/// CLIENT GETREDIR: the redirect (0: none), -1 when not tracking.
pub(super) fn client_getredir(ctx: &mut Ctx) {
    let r = ctx
        .session
        .tracking
        .as_ref()
        .map_or(-1, |t| t.redirect as i64);
    ctx.reply(|out| encode::int(out, r));
}

/// CLIENT TRACKINGINFO: `flags`, `redirect`, `prefixes`.
pub(super) fn client_trackinginfo(ctx: &mut Ctx) {
    let resp3 = ctx.resp3();
    let t = ctx.session.tracking.as_deref().cloned();
    ctx.reply(|out| {
        encode::map(out, 3, resp3);
        encode::bulk(out, b"flags");
        let mut flags: Vec<&str> = Vec::new();
        match &t {
            None => flags.push("off"),
            Some(t) => {
                flags.push("on");
                if t.bcast {
                    flags.push("bcast");
                }
                if t.optin {
                    flags.push("optin");
                    if t.caching {
                        flags.push("caching-yes");
                    }
                }
                if t.optout {
                    flags.push("optout");
                    if t.caching {
                        flags.push("caching-no");
                    }
                }
                if t.noloop {
                    flags.push("noloop");
                }
                if t.broken {
                    flags.push("broken_redirect");
                }
            }
        }
        encode::set(out, flags.len(), resp3);
        for f in flags {
            encode::bulk(out, f.as_bytes());
        }
        encode::bulk(out, b"redirect");
        encode::int(out, t.as_ref().map_or(-1, |t| t.redirect as i64));
        encode::bulk(out, b"prefixes");
        let prefixes = t.map(|t| t.prefixes).unwrap_or_default();
        encode::array(out, prefixes.len());
        for p in &prefixes {
            encode::bulk(out, p);
        }
    });
}
