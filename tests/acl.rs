//! ACL: users and their rules (ACL SETUSER / GETUSER / LIST / DELUSER ...),
//! authentication as any user, and the permission checks on commands,
//! keys, channels, transactions and scripts, checked byte for byte against
//! Redis 7.0.15's replies (`SHARDCACHE_TEST_AGAINST_REDIS=1 cargo test
//! --test acl` runs the same expectations against `redis-server`).

mod common;

use common::{run, wait_until, Raw, Reply, Server};
use std::time::Duration;

const WRONGPASS: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const OK: &[u8] = b"+OK\r\n";
/// SHA-256 of `pw`, as ACL LIST shows the password `>pw`.
const PW_HASH: &str = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";

fn bulks(r: Reply) -> Vec<String> {
    r.array().into_iter().map(|b| b.bulk_string()).collect()
}

fn acl_list(r: &mut Raw) -> Vec<String> {
    bulks(r.call(&["ACL", "LIST"]))
}

/// A connection authenticated as `user` with password `pass`.
fn login(s: &Server, user: &str, pass: &str) -> Raw {
    let mut r = s.raw();
    run(&mut r, &[(&["AUTH", user, pass], OK)]);
    r
}

#[test]
fn default_user_follows_requirepass() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    assert_eq!(acl_list(&mut r), ["user default on nopass ~* &* +@all"]);
    run(
        &mut r,
        &[
            (&["ACL", "WHOAMI"], b"$7\r\ndefault\r\n"),
            (&["ACL", "USERS"], b"*1\r\n$7\r\ndefault\r\n"),
            (&["CONFIG", "SET", "requirepass", "pw"], OK),
        ],
    );
    assert_eq!(
        acl_list(&mut r),
        [format!("user default on #{PW_HASH} ~* &* +@all")]
    );
    let mut other = s.raw();
    run(
        &mut other,
        &[
            (&["GET", "k"], b"-NOAUTH Authentication required.\r\n"),
            (&["AUTH", "default", "bad"], WRONGPASS),
            (&["AUTH", "pw"], OK),
            (&["GET", "k"], b"$-1\r\n"),
            (&["CONFIG", "SET", "requirepass", ""], OK),
        ],
    );
    assert_eq!(acl_list(&mut r), ["user default on nopass ~* &* +@all"]);
    // ACL SETUSER on the default user is what AUTH checks too.
    run(
        &mut r,
        &[
            (&["ACL", "SETUSER", "default", "resetpass", ">x"], OK),
            (&["AUTH", "x"], OK),
        ],
    );
    let mut third = s.raw();
    run(
        &mut third,
        &[
            (&["PING"], b"-NOAUTH Authentication required.\r\n"),
            (&["AUTH", "y"], WRONGPASS),
            (&["AUTH", "x"], OK),
            (&["ACL", "SETUSER", "default", "nopass"], OK),
        ],
    );
}

#[test]
fn setuser_rules_and_their_errors() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    let e = |m: &str| format!("-ERR Error in ACL SETUSER modifier {m}\r\n").into_bytes();
    let cases: Vec<(Vec<&str>, Vec<u8>)> = vec![
        (vec!["x", "foo"], e("'foo': Syntax error")),
        (
            vec!["x", "+nosuch"],
            e("'+nosuch': Unknown command or category name in ACL"),
        ),
        (
            vec!["x", "+@nosuch"],
            e("'+@nosuch': Unknown command or category name in ACL"),
        ),
        (
            vec!["x", "#abc"],
            e("'#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        ),
        (
            vec!["x", "<nopw"],
            e("'<nopw': The password you are trying to remove from the user does not exist"),
        ),
        (vec!["x", "%X~a"], e("'%X~a': Syntax error")),
        (
            vec!["x", "+config|get|x"],
            e("'+config|get|x': Allowing first-arg of a subcommand is not supported"),
        ),
        (vec!["x", "+client|"], e("'+client|': Syntax error")),
        (
            vec!["x", "allkeys", "~a"],
            e("'~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
        ),
        (
            vec!["x", "(+nosuch)"],
            e("'(+nosuch)': Unknown command or category name in ACL"),
        ),
        (
            vec!["x", "(+get"],
            b"-ERR Unmatched parenthesis in acl selector starting at '(+get'.\r\n".to_vec(),
        ),
        (
            vec!["bad name"],
            b"-ERR Usernames can't contain spaces or null characters\r\n".to_vec(),
        ),
    ];
    for (args, reply) in &cases {
        let mut full = vec!["ACL", "SETUSER"];
        full.extend(args);
        run(&mut r, &[(&full, reply)]);
    }
    // A failed SETUSER changes nothing: `x` was never created.
    run(&mut r, &[(&["ACL", "GETUSER", "x"], b"$-1\r\n")]);

    run(
        &mut r,
        &[
            (
                &[
                    "ACL", "SETUSER", "bob", "on", ">pw", "~k*", "%R~r*", "&ch*", "+@hash", "-hdel",
                ],
                OK,
            ),
            (&["ACL", "SETUSER", "fresh"], OK),
            (
                &[
                    "ACL",
                    "SETUSER",
                    "a2",
                    "on",
                    "nopass",
                    "allkeys",
                    "allchannels",
                ],
                OK,
            ),
            (
                &["ACL", "SETUSER", "a2", "allcommands", ">p1", "-@dangerous"],
                OK,
            ),
            (
                &["ACL", "SETUSER", "a3", "%W~w*", "%RW~x*", "~y*", "%R~z"],
                OK,
            ),
            (
                &[
                    "ACL", "SETUSER", "a4", "+@all", "-@all", "+set", "-@write", "+set",
                ],
                OK,
            ),
            (&["ACL", "SETUSER", "a5", "(+get ~x*)", "(+set", "~y*)"], OK),
            (&["ACL", "SETUSER", "a6", "on", "reset"], OK),
        ],
    );
    let p1 = "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a";
    assert_eq!(
        acl_list(&mut r),
        [
            format!("user a2 on #{p1} ~* &* +@all -@dangerous"),
            "user a3 off %W~w* ~x* ~y* %R~z resetchannels -@all".into(),
            "user a4 off resetchannels -@all +set".into(),
            "user a5 off resetchannels -@all (~x* resetchannels -@all +get) (~y* resetchannels -@all +set)".into(),
            "user a6 off sanitize-payload resetchannels -@all".into(),
            format!("user bob on #{PW_HASH} ~k* %R~r* resetchannels &ch* -@all +@hash -hdel"),
            "user default on nopass ~* &* +@all".into(),
            "user fresh off resetchannels -@all".into(),
        ]
    );
    let getuser = format!(
        "*12\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$9\r\npasswords\r\n*1\r\n$64\r\n{PW_HASH}\r\n\
         $8\r\ncommands\r\n$18\r\n-@all +@hash -hdel\r\n$4\r\nkeys\r\n$9\r\n~k* %R~r*\r\n\
         $8\r\nchannels\r\n$4\r\n&ch*\r\n$9\r\nselectors\r\n*0\r\n"
    );
    run(&mut r, &[(&["ACL", "GETUSER", "bob"], getuser.as_bytes())]);
    let a5 = "*12\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$9\r\npasswords\r\n*0\r\n\
              $8\r\ncommands\r\n$5\r\n-@all\r\n$4\r\nkeys\r\n$0\r\n\r\n\
              $8\r\nchannels\r\n$0\r\n\r\n$9\r\nselectors\r\n*2\r\n\
              *6\r\n$8\r\ncommands\r\n$10\r\n-@all +get\r\n$4\r\nkeys\r\n$3\r\n~x*\r\n$8\r\nchannels\r\n$0\r\n\r\n\
              *6\r\n$8\r\ncommands\r\n$10\r\n-@all +set\r\n$4\r\nkeys\r\n$3\r\n~y*\r\n$8\r\nchannels\r\n$0\r\n\r\n";
    run(
        &mut r,
        &[
            (&["ACL", "GETUSER", "a5"], a5.as_bytes()),
            (&["ACL", "DELUSER", "a2", "a3", "nosuch"], b":2\r\n"),
            (
                &["ACL", "DELUSER", "default"],
                b"-ERR The 'default' user cannot be removed\r\n",
            ),
            (
                &["ACL", "USERS"],
                b"*6\r\n$2\r\na4\r\n$2\r\na5\r\n$2\r\na6\r\n$3\r\nbob\r\n$7\r\ndefault\r\n$5\r\nfresh\r\n",
            ),
        ],
    );
}

#[test]
fn auth_as_a_user() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[
            (
                &["ACL", "SETUSER", "u", "on", ">pw", "allkeys", "+@all"],
                OK,
            ),
            (&["ACL", "SETUSER", "off", "off", ">pw", "+@all"], OK),
        ],
    );
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["AUTH", "nosuch", "pw"], WRONGPASS),
            (&["AUTH", "off", "pw"], WRONGPASS),
            (&["AUTH", "u", "bad"], WRONGPASS),
            (&["AUTH", "u", "pw"], OK),
            (&["ACL", "WHOAMI"], b"$1\r\nu\r\n"),
        ],
    );
    let info = r.call(&["CLIENT", "INFO"]).bulk_string();
    assert!(info.contains(" user=u "), "{info}");
    let list = admin.call(&["CLIENT", "LIST"]).bulk_string();
    assert!(list.contains(" user=u "), "{list}");
    assert!(list.contains(" user=default "), "{list}");
    // HELLO AUTH switches the user too; RESET goes back to default.
    r.send(&common::cmd(&["HELLO", "2", "AUTH", "u", "nope"]));
    r.expect(WRONGPASS);
    run(
        &mut r,
        &[
            (&["RESET"], b"+RESET\r\n"),
            (&["ACL", "WHOAMI"], b"$7\r\ndefault\r\n"),
        ],
    );
    let hello = r.call(&["HELLO", "2", "AUTH", "u", "pw"]);
    assert!(matches!(hello, Reply::Array(Some(_))), "{hello:?}");
    run(&mut r, &[(&["ACL", "WHOAMI"], b"$1\r\nu\r\n")]);
    run(
        &mut admin,
        &[
            (
                &["CLIENT", "KILL", "USER", "nosuch"],
                b"-ERR No such user 'nosuch'\r\n",
            ),
            (&["CLIENT", "KILL", "USER", "u"], b":1\r\n"),
        ],
    );
    r.assert_closed();
}

#[test]
fn commands_keys_and_channels_are_checked() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[(
            &[
                "ACL",
                "SETUSER",
                "lim",
                "on",
                "nopass",
                "~k*",
                "%R~r*",
                "%W~w*",
                "&c*",
                "+get",
                "+set",
                "+publish",
                "+client|id",
                "+multi",
                "+exec",
                "+rpoplpush",
                "+select|0",
            ],
            OK,
        )],
    );
    let mut r = login(&s, "lim", "x");
    let noperm_keys =
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    run(
        &mut r,
        &[
            (&["SET", "k1", "v"], OK),
            (&["GET", "k1"], b"$1\r\nv\r\n"),
            (
                &["DEL", "k1"],
                b"-NOPERM this user has no permissions to run the 'del' command\r\n",
            ),
            (
                &["CLIENT", "INFO"],
                b"-NOPERM this user has no permissions to run the 'client|info' command\r\n",
            ),
            (&["GET", "z"], noperm_keys),
            (&["GET", "r1"], b"$-1\r\n"),
            (&["SET", "r1", "v"], noperm_keys),
            (&["SET", "w1", "v"], OK),
            (&["GET", "w1"], noperm_keys),
            (&["RPOPLPUSH", "r1", "w1"], noperm_keys),
            (&["PUBLISH", "c1", "m"], b":0\r\n"),
            (
                &["PUBLISH", "d", "m"],
                b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n",
            ),
            (&["SELECT", "0"], OK),
            (
                &["SELECT", "1"],
                b"-NOPERM this user has no permissions to run the 'select' command\r\n",
            ),
        ],
    );
    // A denied command inside MULTI aborts the transaction.
    run(
        &mut r,
        &[
            (&["MULTI"], OK),
            (&["GET", "k1"], b"+QUEUED\r\n"),
            (
                &["DEL", "k1"],
                b"-NOPERM this user has no permissions to run the 'del' command\r\n",
            ),
            (
                &["EXEC"],
                b"-EXECABORT Transaction discarded because of previous errors.\r\n",
            ),
            (&["MULTI"], OK),
            (&["GET", "k1"], b"+QUEUED\r\n"),
        ],
    );
    // Rules change between queueing and EXEC: checked again, and changes
    // reach connections already authenticated.
    run(&mut admin, &[(&["ACL", "SETUSER", "lim", "-get"], OK)]);
    run(
        &mut r,
        &[(
            &["EXEC"],
            b"*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n",
        )],
    );
    run(
        &mut r,
        &[(
            &["GET", "k1"],
            b"-NOPERM this user has no permissions to run the 'get' command\r\n",
        )],
    );
    run(
        &mut admin,
        &[(
            &[
                "ACL",
                "SETUSER",
                "lim",
                "allcommands",
                "allkeys",
                "allchannels",
            ],
            OK,
        )],
    );
    run(&mut r, &[(&["DEL", "k1"], b":1\r\n")]);
}

#[test]
fn scripts_run_as_their_caller() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[(
            &[
                "ACL", "SETUSER", "sc", "on", "nopass", "~k*", "+eval", "+get",
            ],
            OK,
        )],
    );
    let mut r = login(&s, "sc", "x");
    let call = |r: &mut Raw, script: &str| r.call(&["EVAL", script, "0"]);
    match call(&mut r, "return redis.call('set','k','v')") {
        Reply::Error(e) => assert!(
            e.starts_with(
                "ERR The user executing the script can't run this command or subcommand script:"
            ),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    match call(&mut r, "return redis.call('get','z')") {
        Reply::Error(e) => assert!(
            e.starts_with("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script:"),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        call(&mut r, "return redis.call('get','k')"),
        Reply::Bulk(None)
    );
    assert_eq!(
        call(&mut r, "return redis.acl_check_cmd('get','k')"),
        Reply::Int(1)
    );
    assert_eq!(
        call(&mut r, "return redis.acl_check_cmd('set','k','v')"),
        Reply::Bulk(None)
    );
    assert_eq!(
        call(&mut r, "return redis.acl_check_cmd('get','z')"),
        Reply::Bulk(None)
    );
    let log = admin.call(&["ACL", "LOG", "1"]).array();
    let entry = bulks_of_map(&log[0]);
    assert_eq!(&entry[..5], ["1", "key", "lua", "z", "sc"], "{entry:?}");
    assert!(entry[6].contains(" user=sc "), "{entry:?}");
}

/// The values of a RESP2 map reply (a flat array), as strings, skipping
/// non-bulk values.
fn bulks_of_map(r: &Reply) -> Vec<String> {
    let Reply::Array(Some(items)) = r else {
        panic!("{r:?}")
    };
    items
        .iter()
        .skip(1)
        .step_by(2)
        .map(|v| match v {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn acl_log_records_denials_and_failed_auth() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[
            (&["ACL", "LOG", "RESET"], OK),
            (&["ACL", "SETUSER", "lg", "on", "nopass", "~k*", "+get"], OK),
        ],
    );
    let mut r = login(&s, "lg", "x");
    r.call(&["SET", "k", "v"]);
    r.call(&["SET", "k", "v"]);
    r.call(&["GET", "z"]);
    r.call(&["AUTH", "lg2", "bad"]);
    let log = admin.call(&["ACL", "LOG"]).array();
    assert_eq!(log.len(), 3);
    let fields = |e: &Reply| -> Vec<String> {
        let Reply::Array(Some(items)) = e else {
            panic!("{e:?}")
        };
        items
            .iter()
            .step_by(2)
            .map(|k| k.clone().bulk_string())
            .collect()
    };
    assert_eq!(
        fields(&log[0]),
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info"
        ]
    );
    let v: Vec<Vec<String>> = log.iter().map(bulks_of_map).collect();
    assert_eq!(&v[0][..5], ["1", "auth", "toplevel", "AUTH", "lg2"]);
    assert_eq!(&v[1][..5], ["1", "key", "toplevel", "z", "lg"]);
    assert_eq!(&v[2][..5], ["2", "command", "toplevel", "set", "lg"]);
    assert!(v[2][6].contains(" cmd=set user=lg "), "{}", v[2][6]);
    assert_eq!(admin.call(&["ACL", "LOG", "1"]).array().len(), 1);
    run(
        &mut admin,
        &[
            (
                &["ACL", "LOG", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (&["ACL", "LOG", "RESET"], OK),
            (&["ACL", "LOG"], b"*0\r\n"),
        ],
    );
}

#[test]
fn dryrun_cat_genpass_and_files() {
    let s = Server::embedded(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["ACL", "SETUSER", "d", "~k*", "%R~r*", "&c*", "+@hash", "+publish"], OK),
            (&["ACL", "DRYRUN", "d", "hget", "k", "f"], OK),
            (
                &["ACL", "DRYRUN", "d", "set", "k", "v"],
                b"$53\r\nThis user has no permissions to run the 'set' command\r\n",
            ),
            (
                &["ACL", "DRYRUN", "d", "hset", "r1", "f", "v"],
                b"$51\r\nThis user has no permissions to access the 'r1' key\r\n",
            ),
            (
                &["ACL", "DRYRUN", "d", "publish", "x", "m"],
                b"$54\r\nThis user has no permissions to access the 'x' channel\r\n",
            ),
            (&["ACL", "DRYRUN", "nob", "get", "k"], b"-ERR User 'nob' not found\r\n"),
            (
                &["ACL", "DRYRUN", "d", "nosuch"],
                b"-ERR Command 'nosuch' not found\r\n",
            ),
            (
                &["ACL", "DRYRUN", "d", "hget"],
                b"-ERR wrong number of arguments for 'hget' command\r\n",
            ),
            (&["ACL", "CAT", "nosuch"], b"-ERR Unknown category 'nosuch'\r\n"),
            (
                &["ACL", "GENPASS", "0"],
                b"-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096\r\n",
            ),
        ],
    );
    let cats = bulks(r.call(&["ACL", "CAT"]));
    assert_eq!(cats.len(), 21);
    assert_eq!(&cats[..3], ["keyspace", "read", "write"]);
    let hash = bulks(r.call(&["ACL", "CAT", "hash"]));
    assert!(hash.contains(&"hset".to_string()) && !hash.contains(&"get".to_string()));
    let p = r.call(&["ACL", "GENPASS"]).bulk_string();
    assert_eq!(p.len(), 64);
    assert!(p.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(p, r.call(&["ACL", "GENPASS"]).bulk_string());
    assert_eq!(r.call(&["ACL", "GENPASS", "5"]).bulk_string().len(), 2);
    for sub in ["LOAD", "SAVE"] {
        match r.call(&["ACL", sub]) {
            Reply::Error(e) => assert!(
                e.starts_with("ERR This Redis instance is not configured to use an ACL file."),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[(
            &["ACL", "SETUSER", "gone", "on", "nopass", "+@all", "~*"],
            OK,
        )],
    );
    // Several connections, so both workers hold some.
    let mut victims: Vec<Raw> = (0..4).map(|_| login(&s, "gone", "x")).collect();
    let mut me = login(&s, "gone", "x");
    let mut bystander = s.raw();
    run(&mut me, &[(&["ACL", "DELUSER", "gone"], b":1\r\n")]);
    me.assert_closed();
    for v in victims.iter_mut() {
        v.assert_closed();
    }
    run(&mut bystander, &[(&["PING"], b"+PONG\r\n")]);
    assert!(wait_until(Duration::from_secs(5), || {
        !admin
            .call(&["CLIENT", "LIST"])
            .bulk_string()
            .contains("user=gone")
    }));
}

#[test]
fn unrestricted_user_costs_no_lookup_after_changes() {
    // A user turned from restricted to unrestricted and back: what a
    // connection remembers of its user follows every change.
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[(
            &[
                "ACL", "SETUSER", "flip", "on", "nopass", "+@all", "~*", "&*",
            ],
            OK,
        )],
    );
    let mut r = login(&s, "flip", "x");
    for _ in 0..3 {
        run(&mut r, &[(&["SET", "k", "v"], OK)]);
        run(&mut admin, &[(&["ACL", "SETUSER", "flip", "-set"], OK)]);
        run(
            &mut r,
            &[(
                &["SET", "k", "v"],
                b"-NOPERM this user has no permissions to run the 'set' command\r\n",
            )],
        );
        run(&mut admin, &[(&["ACL", "SETUSER", "flip", "+@all"], OK)]);
    }
}

/// A fresh directory for an ACL file.
fn acl_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shardcache-acl-{tag}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn aclfile_load_and_save() {
    let dir = acl_dir("file");
    let path = dir.join("users.acl");
    let p = path.display().to_string();
    std::fs::write(&path, "user alice on >pw ~a* +get\n\n").unwrap();
    let s = Server::embedded(&["--aclfile", &p]);
    let mut admin = s.raw();
    // The file has no default user: a fresh one is made.
    assert_eq!(
        acl_list(&mut admin),
        [
            format!("user alice on #{PW_HASH} ~a* resetchannels -@all +get"),
            "user default on nopass ~* &* +@all".into(),
        ]
    );
    let aclfile = format!("*2\r\n$7\r\naclfile\r\n${}\r\n{p}\r\n", p.len());
    run(
        &mut admin,
        &[
            (&["CONFIG", "GET", "aclfile"], aclfile.as_bytes()),
            (&["ACL", "SETUSER", "bob", "on", "+@hash"], OK),
            (&["ACL", "SAVE"], OK),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!(
            "user alice on #{PW_HASH} ~a* resetchannels -@all +get\n\
             user bob on resetchannels -@all +@hash\n\
             user default on nopass ~* &* +@all\n"
        )
    );
    let mut alice = login(&s, "alice", "pw");
    // Every error of the file is told, and nothing changes.
    std::fs::write(
        &path,
        "user alice on +nosuch foo bar\nbad line\nuser alice x\nuser c (+get\n",
    )
    .unwrap();
    let errors = format!(
        "-ERR {p}:1: Error in applying operation '+nosuch': Unknown command or category name in \
         ACL. {p}:1: Syntax error. {p}:2 should start with user keyword followed by the \
         username. WARNING: Duplicate user 'alice' found on line 3. {p}:4: Unmatched parenthesis \
         in selector definition.WARNING: ACL errors detected, no change to the previously active \
         ACL rules was performed\r\n"
    );
    run(&mut admin, &[(&["ACL", "LOAD"], errors.as_bytes())]);
    assert_eq!(acl_list(&mut admin).len(), 3);
    run(&mut alice, &[(&["GET", "a1"], b"$-1\r\n")]);
    // A good file replaces every user; their connections close.
    std::fs::write(
        &path,
        "user alice on >pw ~* +@all\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    run(&mut admin, &[(&["ACL", "LOAD"], OK)]);
    alice.assert_closed();
    run(
        &mut admin,
        &[(&["ACL", "USERS"], b"*2\r\n$5\r\nalice\r\n$7\r\ndefault\r\n")],
    );
    std::fs::remove_file(&path).unwrap();
    let missing =
        format!("-ERR Error loading ACLs, opening file '{p}': No such file or directory\r\n");
    run(&mut admin, &[(&["ACL", "LOAD"], missing.as_bytes())]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn users_from_the_configuration() {
    if common::against_redis() {
        // redis-server's command line wants the words apart (`--user alice
        // on >pw`); the same lines in its config file list as below.
        return;
    }
    let s = Server::embedded(&[
        "--user",
        "alice on >pw ~a* +get",
        "--user",
        "default on nopass ~* +@all",
    ]);
    let mut r = s.raw();
    assert_eq!(
        acl_list(&mut r),
        [
            format!("user alice on #{PW_HASH} ~a* resetchannels -@all +get"),
            "user default on nopass sanitize-payload ~* resetchannels +@all".into(),
        ]
    );
    run(
        &mut r,
        &[(&["AUTH", "alice", "pw"], OK), (&["GET", "a"], b"$-1\r\n")],
    );
}

#[test]
fn bad_acl_configuration_refuses_to_start() {
    if common::against_redis() {
        return; // Redis exits; its messages are checked here for shardcache.
    }
    let dir = acl_dir("bad");
    let path = dir.join("users.acl");
    let p = path.display().to_string();
    let start = |extra: &[&str]| -> String {
        let mut argv = vec![
            "shardcache",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--no-pin",
        ];
        let d = dir.display().to_string();
        argv.extend(["--dir", &d]);
        argv.extend_from_slice(extra);
        let config = shardcache::config::from_argv(&argv).expect("flags");
        match shardcache::server::start(config) {
            Ok(_) => panic!("started with {extra:?}"),
            Err(e) => e.to_string(),
        }
    };
    let e = start(&["--aclfile", &p]);
    assert!(
        e.contains(&format!("opening file '{p}': No such file")),
        "{e}"
    );
    std::fs::write(&path, "user a on +nosuch\n").unwrap();
    let e = start(&["--aclfile", &p]);
    assert!(
        e.starts_with("Aborting Redis startup because of ACL errors: "),
        "{e}"
    );
    let e = start(&["--aclfile", &p, "--user", "b on"]);
    assert!(
        e.starts_with("Configuring Redis with users defined in redis.conf"),
        "{e}"
    );
    let e = start(&["--user", "b on", "--user", "b off"]);
    assert!(e.contains("Duplicate user found"), "{e}");
    let e = start(&["--user", "b +nosuch"]);
    assert_eq!(
        e,
        "Error in user declaration 'b': Unknown command or category name in ACL"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn subscribers_losing_their_channels_are_closed() {
    let s = Server::embedded(&[]);
    let mut admin = s.raw();
    run(
        &mut admin,
        &[(
            &[
                "ACL",
                "SETUSER",
                "ps",
                "on",
                "nopass",
                "resetchannels",
                "&c*",
                "&d*",
                "+@all",
            ],
            OK,
        )],
    );
    // A connection of `ps` that subscribed, its confirmation read.
    let subscribe = |cmd: &[&str], confirm: &[u8], resp3: bool| -> Raw {
        let mut r = s.raw();
        run(&mut r, &[(&["AUTH", "ps", "x"], OK)]);
        if resp3 {
            r.send(&common::cmd(&["HELLO", "3"]));
        }
        r.send(&common::cmd(cmd));
        // Read up to the confirmation (after HELLO's map, of unknown length).
        let mut got = Vec::new();
        while !got.ends_with(confirm) {
            assert!(got.len() < 4096, "no confirmation in {got:?}");
            got.extend(r.read_n(1));
        }
        r
    };
    let mut c1 = subscribe(
        &["SUBSCRIBE", "c1"],
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n",
        false,
    );
    let mut d1 = subscribe(
        &["SUBSCRIBE", "d1"],
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nd1\r\n:1\r\n",
        false,
    );
    let mut pc = subscribe(
        &["PSUBSCRIBE", "c*"],
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:1\r\n",
        false,
    );
    let mut r3 = subscribe(
        &["SUBSCRIBE", "c2"],
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nc2\r\n:1\r\n",
        true,
    );
    run(
        &mut admin,
        &[(&["ACL", "SETUSER", "ps", "resetchannels", "&d*"], OK)],
    );
    for closed in [&mut c1, &mut pc, &mut r3] {
        closed.assert_closed();
    }
    run(&mut d1, &[(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")]);
}
