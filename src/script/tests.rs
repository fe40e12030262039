//! Unit tests with an in-memory host.

use super::*;

struct NoHost;
impl Host for NoHost {
    fn call(&mut self, _args: &[&[u8]], _ctx: &CallContext) -> CallResult {
        CallResult::Reply(RespValue::ok())
    }
}

fn run(engine: &mut ScriptEngine, script: &str) -> RespValue {
    engine.eval(&mut NoHost, script.as_bytes(), &[], &[], false)
}

#[test]
fn deep_structures_fit_a_small_stack() {
    let t = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut e = ScriptEngine::new();
            for s in [
                "local t = {} t[1] = t return cjson.encode(t)",
                "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
                "local t = {} t[1] = t return t",
                "local t = {} t[1] = t return cmsgpack.pack(t)",
            ] {
                eprintln!("{s}");
                let r = run(&mut e, s);
                eprintln!(
                    "{:?}",
                    String::from_utf8_lossy(&r.to_resp2())
                        .chars()
                        .take(200)
                        .collect::<String>()
                );
            }
        })
        .unwrap();
    t.join().unwrap();
}
