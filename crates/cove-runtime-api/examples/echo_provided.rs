//! A `provided`-runtime function built on AWS's Rust runtime client (`lambda_runtime`,
//! unmodified): it answers every event with `{"event": <event>, "request_id": …}`, and
//! fails with an error when the event is `{"fail": "<message>"}`. It reads
//! `AWS_LAMBDA_RUNTIME_API` like any Lambda runtime; cove's tests run it against
//! `cove_runtime_api::RuntimeApi`, and it can serve as the bootstrap of a `provided`
//! function.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if let Some(message) = payload.get("fail").and_then(Value::as_str) {
        return Err(message.to_owned().into());
    }
    Ok(json!({ "event": payload, "request_id": context.request_id }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
