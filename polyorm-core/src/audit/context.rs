//! [`AuditContext`]: who is writing, and for which request, as the application sets it for
//! a task.

use std::future::Future;

tokio::task_local! {
    static CURRENT: AuditContext;
}

/// Who performs the writes of a task and on behalf of which request: the actor, trace id and
/// request id every audit record of those writes carries.
///
/// Set it once per unit of work (an HTTP request, a job) with [`scope`](AuditContext::scope);
/// writes outside any scope are recorded with the three fields `NULL`.
///
/// ```
/// # async fn handler() {}
/// # async fn run() {
/// use polyorm_core::audit::AuditContext;
///
/// let ctx = AuditContext::new()
///     .with_actor("user:42")
///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
///     .with_request_id("req-7");
/// ctx.scope(handler()).await;
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// Who performs the writes (a user id, a service name).
    pub actor: Option<String>,
    /// The distributed trace the writes belong to (W3C trace id, or any id of yours).
    pub trace_id: Option<String>,
    /// The request (or job) the writes serve.
    pub request_id: Option<String>,
}

impl AuditContext {
    /// A context with no actor, trace id or request id.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the trace id.
    pub fn with_trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Runs `future` with this context: every write it makes through an audited executor
    /// is recorded with it (a task-local, so tasks it spawns need a scope of their own).
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The context of the running task, if it runs inside [`scope`](AuditContext::scope).
    pub fn current() -> Option<AuditContext> {
        CURRENT.try_with(Clone::clone).ok()
    }
}
