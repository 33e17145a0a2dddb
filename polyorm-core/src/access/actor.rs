//! [`Actor`]: who runs the statements of a task, as the access-control layer sees it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CURRENT: Arc<Actor>;
}

/// Who runs the statements of a task: a user id, the roles it holds for this request (beside
/// those the [`Policy`](super::Policy) gives the user), and typed attributes that row rules
/// read (its tenant, its own id).
///
/// Set it once per unit of work (an HTTP request, a job) with [`scope`](Actor::scope); tasks
/// it spawns need a scope of their own.
///
/// ```
/// # async fn handler() {}
/// # async fn run() {
/// use polyorm_core::access::Actor;
///
/// #[derive(Clone)]
/// struct Tenant(i64);
///
/// Actor::new("alice").with_role("support").with(Tenant(7)).scope(handler()).await;
/// # }
/// ```
#[derive(Clone)]
pub struct Actor {
    user: String,
    roles: Vec<String>,
    attributes: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Actor {
    /// The actor `user` (the id the policy's users and overrides name), with no roles of its
    /// own beyond the policy's and no attributes.
    pub fn new(user: impl Into<String>) -> Self {
        Actor {
            user: user.into(),
            roles: Vec::new(),
            attributes: HashMap::new(),
        }
    }

    /// Also holds `role` for this scope (e.g. a role from the request's token).
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Carries `value`, which row rules read with [`get`](Actor::get) (one value per type:
    /// wrap plain values in a type of yours, `struct Tenant(i64)`).
    pub fn with<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.attributes.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The user id.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The roles given for this scope (not those the policy gives the user).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The attribute of type `T`, if the actor carries one.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.attributes.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// Runs `future` as this actor: every statement it runs through an
    /// [`AccessControl`](super::AccessControl) layer is checked for it.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(Arc::new(self), future).await
    }

    /// The actor of the running task, if it runs inside [`scope`](Actor::scope).
    pub fn current() -> Option<Arc<Actor>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// `f` of the running task's actor, borrowed (no reference count touched); `None` outside
    /// any [`scope`](Actor::scope).
    pub(crate) fn with_current<R>(f: impl FnOnce(&Actor) -> R) -> Option<R> {
        CURRENT.try_with(|actor| f(actor)).ok()
    }
}

impl fmt::Debug for Actor {
    /// The user and roles; attributes by count only (they may hold anything).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Actor")
            .field("user", &self.user)
            .field("roles", &self.roles)
            .field("attributes", &self.attributes.len())
            .finish()
    }
}
