//! A request's context ([`RequestContext`]), what finishing a response
//! does with it ([`Finished`], [`Action`]), the mark of a response
//! rendered for it ([`Rendered`]), and [`respond`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, response};

use super::{ErrorEvent, Instrumented, Pipeline, current, observe};
use crate::context::RenderContext;
use crate::error::GatewayError;
use crate::negotiate::Format;
use crate::render::{render, rerender};
use crate::request_id::RequestId;

/// A new request's identity, unique in the process: what a [`Rendered`]
/// mark is compared by.
fn next_root() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Kept in the extensions of an error response the pipeline rendered for
/// a request context, beside the [`GatewayError`]: finishing keeps such a
/// response as it is. A response rendered without a context (in a spawned
/// task, say) has none and is rendered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rendered {
    root: u64,
    format: Format,
    content_length: u64,
    /// Rendered again by an adapter (a nested one, when the outer keeps
    /// it), not where the error was returned: what the report says.
    again: bool,
}

impl Rendered {
    /// Whether a response head with these field lines is still the one
    /// rendered: the same `Content-Type` and `Content-Length`, the
    /// `x-request-id` its body shows (`id`), and no field that frames or
    /// describes another body (a handler or middleware that added
    /// `Transfer-Encoding`, `Content-Encoding`, an `ETag`, its own
    /// `x-request-id`, ... after the error was rendered).
    fn describes<'a>(
        &self,
        id_name: &str,
        id: &str,
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> bool {
        let mut length = None;
        let mut content_type = None;
        let mut request_id = None;
        for (name, value) in fields {
            match name {
                "content-length" if length.is_none() => length = Some(value),
                "content-type" if content_type.is_none() => content_type = Some(value),
                _ if name == id_name && request_id.is_none() => request_id = Some(value),
                "content-length" | "content-type" => return false,
                _ if crate::render::describes_another_body(name) => return false,
                _ => {}
            }
        }
        length.and_then(decimal) == Some(self.content_length)
            && content_type == Some(self.format.content_type().as_bytes())
            && request_id == Some(id.as_bytes())
    }
}

/// A `Content-Length` value: 1 to 19 ASCII digits (no sign, no spaces).
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A request's context, captured once by an adapter (see
/// [`Pipeline::capture`]). Cheap to clone.
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::{Pipeline, RequestContext};
/// use http::Method;
///
/// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"r-2"));
/// assert!(RequestContext::current().is_none());
/// ctx.in_scope(|| {
///     let current = RequestContext::current().expect("in scope");
///     assert_eq!(current.request_id().as_str(), "r-2");
/// });
/// ```
#[derive(Clone)]
pub struct RequestContext(Arc<ContextInner>);

struct ContextInner {
    format: Format,
    method: Method,
    request_id: RequestId,
    pipeline: Pipeline,
    root: u64,
    nested: bool,
}

impl RequestContext {
    /// A context for a request: an outer adapter's (`outer`, found in the
    /// request's extensions, else the one current) gives its id and
    /// identity, and makes this one nested.
    pub(crate) fn new(
        pipeline: &Pipeline,
        method: Method,
        format: Format,
        request_id: Option<&[u8]>,
        outer: Option<RequestContext>,
    ) -> Self {
        let outer = outer.or_else(Self::current);
        let (request_id, root) = match &outer {
            Some(outer) => (outer.0.request_id.clone(), outer.0.root),
            None => (
                RequestId::from_request(request_id, pipeline.request_id_maker()),
                next_root(),
            ),
        };
        Self(Arc::new(ContextInner {
            format,
            method,
            request_id,
            pipeline: pipeline.clone(),
            root,
            nested: outer.is_some(),
        }))
    }
}

/// What [`RequestContext::finish`] did to a response.
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::{Finished, Pipeline};
/// use http::{Method, Response};
///
/// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"r-3"));
/// let finished = ctx.finish(Response::new("ok"));
/// assert!(matches!(finished, Finished::Kept(_)));
/// let response = finished.map_body(|kept| kept.to_owned(), |_| unreachable!());
/// assert_eq!(response.headers()["x-request-id"], "r-3");
/// ```
#[derive(Debug)]
pub enum Finished<B> {
    /// The response's own body is kept (its headers may have gained
    /// `x-request-id`).
    Kept(Response<B>),
    /// The response carried a gateway error rendered for another context,
    /// now rendered for this one: a new body, the old one dropped.
    Rendered(Response<Bytes>),
}

impl<B> Finished<B> {
    /// The response with one body type, for the framework's.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Finished;
    /// use http::Response;
    ///
    /// let finished: Finished<&str> = Finished::Kept(Response::new("ok"));
    /// let response = finished.map_body(String::from, |bytes| String::from_utf8_lossy(&bytes).into_owned());
    /// assert_eq!(response.body(), "ok");
    /// ```
    pub fn map_body<T>(
        self,
        kept: impl FnOnce(B) -> T,
        rendered: impl FnOnce(Bytes) -> T,
    ) -> Response<T> {
        match self {
            Self::Kept(response) => response.map(kept),
            Self::Rendered(response) => response.map(rendered),
        }
    }
}

/// What finishing does with a response head (see
/// [`RequestContext::finish_head`]).
#[derive(Debug)]
pub(crate) enum Action {
    /// Keep the response as it is (echo the request id if it has none).
    Keep,
    /// Render the error again for this context.
    Render,
}

impl RequestContext {
    /// The context the current thread is polling inside (see
    /// [`in_scope`](Self::in_scope), which adapters wrap around each poll),
    /// as `tracing`'s `Span::current`. `None` outside any adapter's poll,
    /// and in a task the handler spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::RequestContext;
    ///
    /// assert!(RequestContext::current().is_none());
    /// ```
    #[must_use]
    pub fn current() -> Option<Self> {
        current::get()
    }

    /// Runs `f` with this context current, restoring the previous one
    /// afterwards (even if `f` panics).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::{Pipeline, RequestContext};
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::PUT, Default::default(), None);
    /// let method = ctx.in_scope(|| RequestContext::current().map(|c| c.method().clone()));
    /// assert_eq!(method, Some(Method::PUT));
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.0.pipeline.renders_in_handler() {
            current::scope(self, f)
        } else {
            f()
        }
    }

    /// Wraps `future` so that each of its polls runs with this context
    /// current, as `tracing`'s `Instrument` does for spans: a handler's
    /// error then renders for the request, once.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn instrument<F>(&self, future: F) -> Instrumented<F> {
        Instrumented::new(self.clone(), future)
    }

    /// The negotiated body format.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Format;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Format::Text, None);
    /// assert_eq!(ctx.format(), Format::Text);
    /// ```
    #[must_use]
    pub fn format(&self) -> Format {
        self.0.format
    }

    /// The request's method.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::HEAD, Default::default(), None);
    /// assert_eq!(ctx.method(), &Method::HEAD);
    /// ```
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.0.method
    }

    /// The request's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"r-5"));
    /// assert_eq!(ctx.request_id().as_str(), "r-5");
    /// ```
    #[must_use]
    pub fn request_id(&self) -> &RequestId {
        &self.0.request_id
    }

    /// The pipeline this context was captured by.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Policy;
    /// use http::Method;
    ///
    /// let pipeline = Pipeline::new(Policy::new().with_proxy_name("p"));
    /// let ctx = pipeline.capture_parts(Method::GET, Default::default(), None);
    /// assert_eq!(ctx.pipeline().policy().proxy_name(), Some("p"));
    /// ```
    #[must_use]
    pub fn pipeline(&self) -> &Pipeline {
        &self.0.pipeline
    }

    /// Whether this context was captured inside another adapter's, for the
    /// same request: it renders, but reporting and echoing are the outer
    /// adapter's.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let outer = Pipeline::default().capture_parts(Method::GET, Default::default(), None);
    /// let inner = outer.in_scope(|| Pipeline::default().capture_parts(Method::GET, Default::default(), None));
    /// assert!(!outer.is_nested());
    /// assert!(inner.is_nested());
    /// assert_eq!(inner.request_id(), outer.request_id());
    /// ```
    #[must_use]
    pub fn is_nested(&self) -> bool {
        self.0.nested
    }

    /// The [`RenderContext`] of this request, for [`render`].
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Format;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Format::Html, Some(b"r-6"));
    /// let render_ctx = ctx.render_context();
    /// assert_eq!(render_ctx.format(), Format::Html);
    /// assert_eq!(render_ctx.request_id(), Some("r-6"));
    /// ```
    #[must_use]
    pub fn render_context(&self) -> RenderContext<'_> {
        RenderContext::new()
            .with_format(self.0.format)
            .with_method(&self.0.method)
            .with_request_id(self.0.request_id.as_str())
            .with_policy(self.0.pipeline.policy())
    }

    /// The complete response for `error` and this request: [`render`]'s
    /// status, headers and body, `x-request-id` (the error's own id, or
    /// the request's), and in the extensions the error and a mark that it
    /// was rendered for this request (so that [`finish`](Self::finish)
    /// keeps it). Reporting waits for `finish`, so that nested adapters
    /// report once.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::ServiceUnavailable;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"r-7"));
    /// let response = ctx.error_response(ServiceUnavailable::upstream("search").into());
    /// assert_eq!(response.status(), 503);
    /// assert_eq!(response.headers()["x-request-id"], "r-7");
    /// assert_eq!(response.headers()["content-length"], response.body().len().to_string());
    /// ```
    #[must_use]
    pub fn error_response(&self, error: GatewayError) -> Response<Bytes> {
        let mut response = render(&error, &self.render_context());
        self.mark(&mut response, error);
        response
    }

    /// Finishes a response that comes back from the inner service:
    ///
    /// - one carrying a [`GatewayError`] in its extensions that was
    ///   rendered for another context (or none) is rendered again for this
    ///   one (with the `tonic` feature, so is a tonic service's answer made
    ///   of a [`GatewayError`]: tonic's `Status::into_http` keeps the
    ///   `Status` in the response's extensions, and the error is its
    ///   source): its status, body and the headers that framed or described
    ///   the old body are replaced, every other header is kept (see
    ///   [`rerender`]);
    /// - every response gets `x-request-id` unless it has one (nested
    ///   contexts leave that to the outer adapter);
    /// - each error is reported once: the `tracing` event and the
    ///   observers, by the outermost adapter.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::{Finished, Pipeline};
    /// use gateway_error::{render, BadGateway, Format, GatewayError, RenderContext};
    /// use http::Method;
    ///
    /// // An error rendered without the request's context (a spawned task):
    /// let error = GatewayError::from(BadGateway::upstream("db"));
    /// let mut response = render(&error, &RenderContext::new());
    /// response.extensions_mut().insert(error);
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Format::Text, Some(b"r-8"));
    /// let Finished::Rendered(response) = ctx.finish(response) else { panic!("rendered again") };
    /// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    /// assert_eq!(response.headers()["x-request-id"], "r-8");
    /// ```
    pub fn finish<B>(&self, response: Response<B>) -> Finished<B> {
        let (mut parts, body) = response.into_parts();
        #[cfg(feature = "tonic")]
        crate::grpc::error_from_status(&mut parts.extensions);
        let action = self.finish_head(
            parts.extensions.get::<GatewayError>(),
            parts.extensions.get::<Rendered>(),
            parts
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        match action {
            Action::Keep => {
                self.echo(&mut parts.headers);
                Finished::Kept(Response::from_parts(parts, body))
            }
            Action::Render => {
                drop(body);
                let body = self.finish_parts(&mut parts);
                Finished::Rendered(Response::from_parts(parts, body))
            }
        }
    }

    /// The decision [`finish`](Self::finish) takes from a response's
    /// extensions and field lines (name in lowercase, value), whatever the
    /// framework's types, and the report of the error when it keeps the
    /// response and this is the outermost adapter.
    ///
    /// A response is kept when its error was rendered for this request and
    /// its head still describes the rendered body; one that a handler or
    /// middleware gave a field framing or describing another body
    /// (`Transfer-Encoding`, `Content-Encoding`, `ETag`, another
    /// `Content-Length`, ...) is rendered again.
    pub(crate) fn finish_head<'a>(
        &self,
        error: Option<&GatewayError>,
        rendered: Option<&Rendered>,
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Action {
        let Some(error) = error else {
            return Action::Keep;
        };
        let id = self.response_id(error, None);
        let fresh = rendered.is_some_and(|mark| {
            mark.root == self.0.root
                && mark.describes(self.id_header().as_str(), id.as_str(), fields)
        });
        if fresh {
            self.report(error, &id, rendered.is_some_and(|mark| mark.again));
            Action::Keep
        } else {
            Action::Render
        }
    }

    /// The one id a response for `error` carries, in its header, every
    /// format's body and its log event: the error's own id, else the
    /// response's own valid `x-request-id` (a handler's: `own`), else the
    /// request's.
    pub(crate) fn response_id(
        &self,
        error: &GatewayError,
        own: Option<&[u8]>,
    ) -> Cow<'_, RequestId> {
        error
            .inner()
            .request_id
            .as_deref()
            .map(str::as_bytes)
            .or(own)
            .and_then(RequestId::from_client)
            .map_or(Cow::Borrowed(&self.0.request_id), Cow::Owned)
    }

    /// Renders the error in `parts`' extensions again for this request
    /// (see [`finish`](Self::finish)), replacing `parts`' status and the
    /// headers the renderer decides, and returns the new body; reports the
    /// error when this is the outermost adapter. Without an error in the
    /// extensions only the request id is echoed, and the body is empty.
    fn finish_parts(&self, parts: &mut response::Parts) -> Bytes {
        let Some(error) = parts.extensions.remove::<GatewayError>() else {
            self.echo(&mut parts.headers);
            return Bytes::new();
        };
        // One id for the header, the body and the log event.
        let id = self.response_id(
            &error,
            parts
                .headers
                .get(self.id_header())
                .map(HeaderValue::as_bytes),
        );
        let ctx = self.render_context().with_request_id(id.as_str());
        let previous = std::mem::take(&mut parts.headers);
        let (head, body) = rerender(&error, &ctx, previous).into_parts();
        parts.status = head.status;
        parts.headers = head.headers;
        self.report(&error, &id, true);
        self.mark_parts(parts, error);
        body
    }

    /// Echoes the request id on `headers` unless they carry one, or this
    /// context is nested.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::{HeaderMap, Method};
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"r-10"));
    /// let mut headers = HeaderMap::new();
    /// ctx.echo(&mut headers);
    /// assert_eq!(headers["x-request-id"], "r-10");
    /// ```
    pub fn echo(&self, headers: &mut HeaderMap) {
        if let Some(id) = self.echo_value() {
            headers
                .entry(self.id_header())
                .or_insert_with(|| id.clone());
        }
    }

    /// The `x-request-id` value [`echo`](Self::echo) puts on a response
    /// that has none; `None` when this context is nested (the outer adapter
    /// echoes).
    #[cfg_attr(not(feature = "actix-web"), allow(dead_code))]
    pub(crate) fn echo_value(&self) -> Option<&HeaderValue> {
        (!self.0.nested).then_some(&self.0.request_id.value)
    }

    /// The header the request id travels in (the policy's: see
    /// [`Policy::with_request_id_header`](crate::Policy::with_request_id_header)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), None);
    /// assert_eq!(ctx.id_header(), "x-request-id");
    /// ```
    #[must_use]
    pub fn id_header(&self) -> &HeaderName {
        self.0.pipeline.policy().request_id_header()
    }

    fn mark<B>(&self, response: &mut Response<B>, error: GatewayError) {
        let mark = self.mark_for(response.headers(), false);
        let extensions = response.extensions_mut();
        extensions.insert(error);
        extensions.insert(mark);
    }

    fn mark_parts(&self, parts: &mut response::Parts, error: GatewayError) {
        let mark = self.mark_for(&parts.headers, true);
        parts.extensions.insert(error);
        parts.extensions.insert(mark);
    }

    /// The [`Rendered`] mark of a response this context rendered.
    fn mark_for(&self, headers: &HeaderMap, again: bool) -> Rendered {
        self.mark_for_length(content_length(headers).unwrap_or_default(), again)
    }

    /// The [`Rendered`] mark of a response this context rendered (`again`:
    /// as an adapter re-renders), whose `Content-Length` says
    /// `content_length`.
    pub(crate) fn mark_for_length(&self, content_length: u64, again: bool) -> Rendered {
        Rendered {
            root: self.0.root,
            format: self.0.format,
            content_length,
            again,
        }
    }

    /// The error's report, by the outermost adapter only, with the id its
    /// response carries.
    pub(crate) fn report(&self, error: &GatewayError, id: &RequestId, rendered_again: bool) {
        if self.0.nested {
            return;
        }
        let pipeline = &self.0.pipeline;
        if !pipeline.traces() && pipeline.shared.observers.is_empty() {
            return;
        }
        // A parsed answer is sent as a relay: the event says what was sent.
        let sent = error.as_sent();
        let event = ErrorEvent::new(&sent, &self.0.method, id, rendered_again);
        if pipeline.traces() {
            observe::trace(&event);
        }
        for observer in &pipeline.shared.observers {
            observer.on_error(&event);
        }
    }
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("format", &self.0.format)
            .field("method", &self.0.method)
            .field("request_id", &self.0.request_id)
            .field("nested", &self.0.nested)
            .finish_non_exhaustive()
    }
}

/// The response for a handler's `error`: rendered for the current request
/// context when there is one (complete, and kept as it is by the adapter),
/// otherwise for the default context (JSON, no method, no request id), with
/// the error in the extensions so that an adapter renders it again.
///
/// The framework integrations' `IntoResponse`, `ResponseError` and `Reply`
/// impls are this; an integration for another framework can use it too.
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::{respond, Finished, Pipeline};
/// use gateway_error::{BadGateway, Format, GatewayError};
/// use http::Method;
///
/// let outside = respond(BadGateway::new().into());
/// assert_eq!(outside.headers()["content-type"], "application/json");
/// assert!(outside.extensions().get::<GatewayError>().is_some());
///
/// let ctx = Pipeline::default().capture_parts(Method::GET, Format::Html, None);
/// let inside = ctx.in_scope(|| respond(BadGateway::new().into()));
/// assert_eq!(inside.headers()["content-type"], "text/html; charset=utf-8");
/// // Rendered for this request: finishing keeps it.
/// assert!(matches!(ctx.finish(inside), Finished::Kept(_)));
/// // Rendered for the default context: finishing renders it again.
/// assert!(matches!(ctx.finish(outside), Finished::Rendered(_)));
/// ```
#[must_use]
pub fn respond(error: GatewayError) -> Response<Bytes> {
    match RequestContext::current() {
        Some(ctx) => ctx.error_response(error),
        None => {
            let mut response = render(&error, &RenderContext::new());
            response.extensions_mut().insert(error);
            response
        }
    }
}

/// The `Content-Length` value of a rendered response.
pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| decimal(v.as_bytes()))
}
