//! Errors of the executor: one variant per step that can fail, with the namespace
//! and object it concerns. The cause is always the `#[source]`, never repeated in
//! the message; print the whole chain where the error is reported.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

/// Everything that can go wrong while observing, applying, destroying or running
/// commands in cove's namespaces.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The prefix given to [`crate::Host::new`] is not 1–12 characters `[a-z0-9]`.
    #[error("invalid prefix {prefix:?}: use 1 to 12 characters, lowercase letters and digits")]
    InvalidPrefix {
        /// The rejected prefix.
        prefix: String,
    },

    /// An operation names a namespace this host does not own; nothing was changed.
    #[error(
        "refusing `{op}`: namespace {ns:?} does not start with {prefix:?}-; cove only touches its own namespaces"
    )]
    ForeignNamespace {
        /// The operation (its `Display`).
        op: String,
        /// The foreign namespace.
        ns: String,
        /// This host's prefix.
        prefix: String,
    },

    /// A name in the plan cannot be used as given; nothing was changed.
    #[error("refusing `{op}`: {what} {name:?} is not a valid name ({rule})")]
    InvalidName {
        /// The operation (its `Display`).
        op: String,
        /// What kind of name (namespace, nftables table, …).
        what: &'static str,
        /// The rejected name.
        name: String,
        /// What a valid name looks like.
        rule: &'static str,
    },

    /// A step of a plan failed; the steps before it were applied, the ones after it
    /// were not. Observe and plan again to continue.
    #[error("step {index} `{op}` failed in namespace {ns}")]
    Step {
        /// Position of the operation in the plan (0-based).
        index: usize,
        /// The operation (its `Display`).
        op: String,
        /// Namespace it ran in.
        ns: String,
        /// What failed.
        #[source]
        source: Box<HostError>,
    },

    /// `/run/netns` could not be created or prepared.
    #[error("could not prepare {path}; cove must run as root")]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// `/run/netns` could not be made a shared mount point.
    #[error("could not make {path} a shared mount point; cove must run as root")]
    RunDirMount {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// A namespace to create already exists.
    #[error("namespace {ns} already exists; run `destroy` or plan against what is observed")]
    NamespaceExists {
        /// Namespace name.
        ns: String,
    },

    /// The file a namespace is bind-mounted on could not be created or removed.
    #[error("could not create or remove {path} for namespace {ns}")]
    NamespaceFile {
        /// Namespace name.
        ns: String,
        /// The file under `/run/netns`.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// `unshare(CLONE_NEWNET)` failed.
    #[error("could not create network namespace {ns}; cove needs CAP_SYS_ADMIN")]
    Unshare {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// Bind-mounting a new namespace onto its file failed.
    #[error("could not bind-mount network namespace {ns} on {path}")]
    Mount {
        /// Namespace name.
        ns: String,
        /// Mount point.
        path: PathBuf,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// Unmounting a namespace failed.
    #[error("could not unmount network namespace {ns} from {path}")]
    Unmount {
        /// Namespace name.
        ns: String,
        /// Mount point.
        path: PathBuf,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// A namespace file could not be opened (it may not exist).
    #[error("could not open namespace {ns} at {path}; does it exist? (`ip netns list`)")]
    OpenNamespace {
        /// Namespace name.
        ns: String,
        /// The file under `/run/netns`.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// `setns` into a namespace failed.
    #[error("could not enter namespace {ns}; is /run/netns/{ns} a namespace mount?")]
    EnterNamespace {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// `/run/netns` or `/proc` could not be listed.
    #[error("could not list {path}")]
    List {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A process inside a namespace could not be killed.
    #[error("could not kill process {pid} in namespace {ns}")]
    Kill {
        /// Namespace name.
        ns: String,
        /// Process id.
        pid: i32,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// An OS thread could not be started.
    #[error("could not start a thread for namespace {ns}")]
    Thread {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A thread working inside a namespace ended without answering (it panicked).
    #[error("the worker thread for namespace {ns} stopped unexpectedly; this is a bug in cove")]
    WorkerGone {
        /// Namespace name.
        ns: String,
    },

    /// The tokio runtime of a namespace worker could not be built.
    #[error("could not start the async runtime for namespace {ns}")]
    Runtime {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// The netlink socket of a namespace worker could not be opened.
    #[error("could not open a netlink socket in namespace {ns}")]
    Connection {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// An interface the operation needs does not exist.
    #[error("interface {dev} does not exist in namespace {ns}; observe and plan again")]
    LinkNotFound {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
    },

    /// Looking up an interface failed.
    #[error("could not look up interface {dev} in namespace {ns}")]
    LinkLookup {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Creating a veth pair failed.
    #[error("could not create veth {name} (peer {peer} in namespace {peer_ns}) in namespace {ns}")]
    VethCreate {
        /// Namespace of the first end.
        ns: String,
        /// First end.
        name: String,
        /// Namespace of the peer.
        peer_ns: String,
        /// Peer name.
        peer: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Setting an interface up failed.
    #[error("could not set interface {dev} up in namespace {ns}")]
    LinkUp {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Turning off IPv6 address generation on an interface failed.
    #[error("could not turn off IPv6 addresses on interface {dev} in namespace {ns}")]
    Ipv6Off {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Deleting an interface failed.
    #[error("could not delete interface {dev} in namespace {ns}")]
    LinkDelete {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Adding an address failed.
    #[error("could not add address {addr} to {dev} in namespace {ns}")]
    AddressAdd {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// Address with prefix length.
        addr: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Removing an address failed.
    #[error("could not remove address {addr} from {dev} in namespace {ns}")]
    AddressDelete {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// Address with prefix length.
        addr: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Adding a route failed.
    #[error("could not add route `{route}` in namespace {ns}")]
    RouteAdd {
        /// Namespace name.
        ns: String,
        /// The route, `ip route` syntax.
        route: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Removing a route failed.
    #[error("could not remove route `{route}` in namespace {ns}")]
    RouteDelete {
        /// Namespace name.
        ns: String,
        /// The route, `ip route` syntax.
        route: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Adding a policy-routing rule failed.
    #[error("could not add rule `{rule}` in namespace {ns}")]
    RuleAdd {
        /// Namespace name.
        ns: String,
        /// The rule, `ip rule` syntax.
        rule: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Removing a policy-routing rule failed.
    #[error("could not remove rule `{rule}` in namespace {ns}")]
    RuleDelete {
        /// Namespace name.
        ns: String,
        /// The rule, `ip rule` syntax.
        rule: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Opening or subscribing an observation socket in a namespace failed.
    #[error("could not open {what} in namespace {ns}{hint}")]
    ObserveSocket {
        /// Namespace name.
        ns: String,
        /// Which socket.
        what: &'static str,
        /// What to do, when the cause says (e.g. too many open files).
        hint: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Dumping kernel objects (links, addresses, routes, rules) failed.
    #[error("could not list {what} in namespace {ns}")]
    Dump {
        /// Namespace name.
        ns: String,
        /// What was listed.
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Reading or writing a sysctl failed.
    #[error("could not access sysctl {path} in namespace {ns}")]
    Sysctl {
        /// Namespace name.
        ns: String,
        /// The file under `/proc/sys`.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// `nft` could not be started or talked to.
    #[error("could not run `nft` in namespace {ns}; install the nftables package")]
    NftSpawn {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// `nft` exited with an error.
    #[error("`nft {args}` failed in namespace {ns} ({status}): {stderr}")]
    Nft {
        /// Namespace name.
        ns: String,
        /// Arguments given to `nft`.
        args: String,
        /// Exit status.
        status: ExitStatus,
        /// What `nft` printed on stderr (it is not an error value, so it is part of
        /// the message).
        stderr: String,
    },

    /// `nft -j` printed something that is not the expected JSON.
    #[error("could not parse the output of `nft -j list tables` in namespace {ns}")]
    NftOutput {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },

    /// An element of an nftables set cannot be read with the set's schema; nothing
    /// was sent to the kernel.
    #[error(
        "element `{element}` of set {set} (table inet {table}, namespace {ns}) is malformed: {problem}"
    )]
    NftElementSyntax {
        /// Namespace name.
        ns: String,
        /// Table name.
        table: String,
        /// Set or map name.
        set: String,
        /// The element, as the plan wrote it.
        element: String,
        /// What is wrong with it.
        problem: String,
    },

    /// nf_tables refused one element of a batch; the kernel rolled the whole batch
    /// back, so no element of the operation changed. Adding an element that is
    /// there, or deleting one that is not, means the kernel is not what was
    /// observed: observe and plan again.
    #[error(
        "could not {verb} element `{element}` in set {set} of table inet {table} in namespace {ns}; the whole element batch was rolled back"
    )]
    NftElement {
        /// Namespace name.
        ns: String,
        /// Table name.
        table: String,
        /// Set or map name.
        set: String,
        /// `add` or `delete`.
        verb: &'static str,
        /// The element, as the plan wrote it (or the elements of the message, when
        /// the kernel did not point at one).
        element: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// Talking to nf_tables over netlink failed (socket, send, answers), or the
    /// kernel refused an element batch as a whole.
    #[error("could not {what} for table inet {table} in namespace {ns}")]
    NftNetlink {
        /// Namespace name.
        ns: String,
        /// Table name.
        table: String,
        /// The step that failed.
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Reading or deleting tracked connections over ctnetlink failed.
    #[error("could not {what} in namespace {ns}")]
    Conntrack {
        /// Namespace name.
        ns: String,
        /// The step that failed.
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Deleting an nftables table that is not cove's (in a namespace cove owns)
    /// failed.
    #[error("could not delete table {family} {name} (not cove's) in namespace {ns}")]
    NftTableDelete {
        /// Namespace name.
        ns: String,
        /// Family as `nft` writes it.
        family: String,
        /// Table name.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Setting an interface's MAC address or MTU back failed.
    #[error("could not set {what} of interface {dev} in namespace {ns}")]
    LinkSet {
        /// Namespace name.
        ns: String,
        /// Interface name.
        dev: String,
        /// What was set (`mtu 1500 address …`).
        what: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// [`crate::Host::exec`] was given no program.
    #[error("no command given to run in namespace {ns}")]
    EmptyCommand {
        /// Namespace name.
        ns: String,
    },

    /// A listening socket could not be opened inside a namespace.
    #[error("cannot listen on {addr} inside namespace {ns}")]
    Listen {
        /// Namespace name.
        ns: String,
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A command could not be started inside a namespace.
    #[error("could not start {program} in namespace {ns}")]
    Spawn {
        /// Namespace name.
        ns: String,
        /// The program.
        program: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Waiting for a command failed.
    #[error("could not wait for {program} in namespace {ns}")]
    Wait {
        /// Namespace name.
        ns: String,
        /// The program.
        program: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A socket of the conntrack replicator could not be opened or set up inside
    /// a namespace.
    #[error("conntrack replication: could not {what} in namespace {ns}")]
    CtsyncSocket {
        /// Namespace name.
        ns: String,
        /// The step (e.g. "subscribe to conntrack events").
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Writing a copy of a connection into the target namespace failed.
    #[error("conntrack replication: could not {what} {flow} in namespace {ns}")]
    CtsyncWrite {
        /// The target namespace.
        ns: String,
        /// The step ("create the copy of", "update the copy of", "delete").
        what: &'static str,
        /// The connection: protocol, original tuple and translation.
        flow: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// The replicator's thread could not be started.
    #[error("conntrack replication from {from} to {to}: could not start its thread")]
    CtsyncThread {
        /// Source namespace.
        from: String,
        /// Target namespace.
        to: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// The replicator has stopped (stopped by its owner, or a namespace was
    /// deleted or replaced), so it cannot synchronize.
    #[error("conntrack replication from {from} to {to} has stopped: {why}")]
    CtsyncStopped {
        /// Source namespace.
        from: String,
        /// Target namespace.
        to: String,
        /// Why it stopped.
        why: String,
    },
}

/// A netlink request's error as an `io::Error` (so that the message is the errno
/// text, and callers can check `raw_os_error`).
pub(crate) fn nl_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) if m.raw_code() != 0 => m.to_io(),
        other => io::Error::other(other),
    }
}

/// `e` and every error under it, as one line (`a: b: c`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
