//! `cove-env-init`: the first process of a cove execution environment. The launcher
//! (`cove_sandbox::Sandbox::launch`) starts it inside the ENI's network namespace and
//! sends its instructions on standard input; it sets the environment up and becomes
//! the runtime. Not meant to be run by hand.

fn main() {
    cove_sandbox::init_main()
}
