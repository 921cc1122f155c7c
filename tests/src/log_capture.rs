//! Captures `tracing` output of the current thread, to assert what the
//! library logs (warnings) and what it never logs (secrets).

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex,
};

use tracing::{
    field::{Field, Visit},
    span,
    subscriber::DefaultGuard,
    Event, Metadata, Subscriber,
};

/// Everything logged while the guard lives: one line per event (level and
/// fields), plus span fields.
#[derive(Debug)]
pub struct Logs {
    text: Arc<Mutex<String>>,
    _guard: DefaultGuard,
}

impl Logs {
    /// Starts capturing on this thread (a current-thread tokio test runs
    /// its spawned tasks here too).
    pub fn capture() -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let guard = tracing::subscriber::set_default(Capture {
            text: Arc::clone(&text),
            next: AtomicU64::new(1),
        });
        Self {
            text,
            _guard: guard,
        }
    }

    /// The captured text.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

struct Capture {
    text: Arc<Mutex<String>>,
    next: AtomicU64,
}

impl Capture {
    fn with(&self, f: impl FnOnce(&mut String)) {
        f(&mut self.text.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &span::Attributes<'_>) -> span::Id {
        self.with(|s| attrs.record(&mut Fields(s)));
        span::Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &span::Id, values: &span::Record<'_>) {
        self.with(|s| values.record(&mut Fields(s)));
    }

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        self.with(|s| {
            s.push('\n');
            s.push_str(event.metadata().level().as_str());
            event.record(&mut Fields(s));
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}
