//! What rendering needs to know about the request and the deployment.

use std::borrow::Cow;

use http::header::ACCEPT;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::negotiate::Format;
use crate::request_id::{X_REQUEST_ID, is_valid_request_id};
use crate::text::{self, MAX_NAME_LEN};

/// Deployment-wide choices for rendering, set once on a layer, middleware or
/// recover filter.
///
/// The default is what an origin server should send: no `Proxy-Status`
/// (RFC 9209 forbids origin servers to send it), upstream names hidden, and
/// `about:blank` problem types.
///
/// Hiding upstream names also governs the `Proxy-Status` members an upstream
/// sent, which this gateway forwards before its own (RFC 9209 section 4:
/// they can reveal internal topology). See [`Policy::with_upstream_names`]
/// for exactly what passes.
///
/// # Examples
///
/// ```
/// use gateway_error::Policy;
///
/// let policy = Policy::new()
///     .with_proxy_name("edge-gateway")
///     .with_upstream_names(true)
///     .with_problem_type_base("https://errors.example.com/");
/// assert_eq!(policy.proxy_name(), Some("edge-gateway"));
/// assert!(policy.shows_upstream_names());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    proxy_name: Option<Cow<'static, str>>,
    upstream_names: bool,
    problem_type_base: Option<Cow<'static, str>>,
    /// The request id's header, when not `x-request-id`.
    request_id_header: Option<HeaderName>,
}

impl Policy {
    /// The default policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(Policy::new(), Policy::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            proxy_name: None,
            upstream_names: false,
            problem_type_base: None,
            request_id_header: None,
        }
    }

    /// Names this gateway, which turns on the `Proxy-Status` field
    /// (RFC 9209): use a service name, not a product name. Non-printable
    /// and non-ASCII characters are replaced with `?`; empty names are
    /// ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(Policy::new().with_proxy_name("bff").proxy_name(), Some("bff"));
    /// ```
    #[must_use]
    pub fn with_proxy_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        let name = text::clean(name.into(), MAX_NAME_LEN);
        let name = match text::printable_ascii(&name) {
            Cow::Borrowed(_) => name,
            Cow::Owned(ascii) => Cow::Owned(ascii),
        };
        self.proxy_name = (!name.trim().is_empty()).then_some(name);
        self
    }

    /// Whether clients may see upstream names (in bodies and as
    /// `Proxy-Status` `next-hop`). Off by default: service names are
    /// internal topology.
    ///
    /// The same switch decides what passes of the `Proxy-Status` members an
    /// upstream sent (every field line, as one list, in order), which are
    /// forwarded before this gateway's member:
    ///
    /// - Names shown: every member that is a Token or String item, with all
    ///   its parameters, re-serialized as valid Structured Fields (RFC 8941).
    /// - Names hidden (the default): every member is renamed `upstream`. A
    ///   name a hop chose for itself, Token or String, can name an internal
    ///   host (`upstream-lb`, `db-primary.internal:5432`, `"10.0.0.7"`);
    ///   RFC 9209 section 2 lets a member's identity be "a generated
    ///   string". Of each member's parameters only `error` with a registry
    ///   token as its value and RFC 9209's Integer parameters
    ///   (`received-status`, `info-code`, `alert-id`, `status-code` and the
    ///   `*-size` ones) pass; `next-hop`, `details` and every other
    ///   parameter, which may name a host or carry an upstream's free text,
    ///   are removed. What happened at each hop reaches the client, not
    ///   where.
    ///
    /// Either way the field stays within
    /// [`MAX_PROXY_STATUS_LEN`](crate::MAX_PROXY_STATUS_LEN): the oldest
    /// forwarded members are dropped first, so that this gateway's member
    /// is always there.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{render, BadGateway, GatewayError, Policy, RenderContext};
    /// use http::HeaderValue;
    ///
    /// assert!(!Policy::new().shows_upstream_names());
    /// assert!(Policy::new().with_upstream_names(true).shows_upstream_names());
    ///
    /// let received = HeaderValue::from_static(
    ///     r#"inner-lb;error=connection_refused;next-hop="10.9.8.7:5432";details="FATAL""#,
    /// );
    /// let err = GatewayError::from(BadGateway::new().with_upstream_proxy_status(received));
    /// let hidden = Policy::new().with_proxy_name("edge");
    /// let response = render(&err, &RenderContext::new().with_policy(&hidden));
    /// assert_eq!(response.headers()["proxy-status"], "upstream;error=connection_refused, edge");
    ///
    /// let shown = hidden.with_upstream_names(true);
    /// let response = render(&err, &RenderContext::new().with_policy(&shown));
    /// assert_eq!(
    ///     response.headers()["proxy-status"],
    ///     r#"inner-lb;error=connection_refused;next-hop="10.9.8.7:5432";details="FATAL", edge"#,
    /// );
    /// ```
    #[must_use]
    pub fn with_upstream_names(mut self, show: bool) -> Self {
        self.upstream_names = show;
        self
    }

    /// The header a request's id travels in, both ways: read from
    /// requests, echoed on responses, and written by the renderer
    /// ([`X_REQUEST_ID`], `x-request-id`, by default). Name it as the rest
    /// of your stack does: the header tower-http's `SetRequestIdLayer`
    /// sets, say, so that its id, when it runs first, is the request's id.
    ///
    /// [`RenderContext::from_request`] reads `x-request-id`; with another
    /// name, give the id with [`RenderContext::with_request_id`].
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{render, BadGateway, GatewayError, Policy, RenderContext};
    /// use http::HeaderName;
    ///
    /// let policy = Policy::new().with_request_id_header(HeaderName::from_static("x-correlation-id"));
    /// assert_eq!(policy.request_id_header(), "x-correlation-id");
    /// let err = GatewayError::from(BadGateway::new());
    /// let response = render(&err, &RenderContext::new().with_policy(&policy).with_request_id("c-1"));
    /// assert_eq!(response.headers()["x-correlation-id"], "c-1");
    /// assert!(response.headers().get("x-request-id").is_none());
    /// ```
    #[must_use]
    pub fn with_request_id_header(mut self, name: HeaderName) -> Self {
        self.request_id_header = (name != X_REQUEST_ID).then_some(name);
        self
    }

    /// The header a request's id travels in (see
    /// [`with_request_id_header`](Self::with_request_id_header)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Policy, X_REQUEST_ID};
    ///
    /// assert_eq!(Policy::new().request_id_header(), X_REQUEST_ID);
    /// ```
    #[must_use]
    pub fn request_id_header(&self) -> &HeaderName {
        static DEFAULT: HeaderName = X_REQUEST_ID;
        self.request_id_header.as_ref().unwrap_or(&DEFAULT)
    }

    /// The header a request's id travels in, when it is not the default.
    pub(crate) fn custom_request_id_header(&self) -> Option<&HeaderName> {
        self.request_id_header.as_ref()
    }

    /// The base URI for problem types: an error with a kind gets the
    /// `type` base + kind token (`https://errors.example.com/connection_refused`);
    /// without one, or without a base, `type` is `about:blank`. A base that
    /// would not make a URI reference with a kind appended
    /// (`scheme://host[:port]/path`, `scheme:path` or `/path`) is ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Policy;
    ///
    /// let policy = Policy::new().with_problem_type_base("https://errors.example.com/");
    /// assert_eq!(policy.problem_type_base(), Some("https://errors.example.com/"));
    /// ```
    #[must_use]
    pub fn with_problem_type_base(mut self, base: impl Into<Cow<'static, str>>) -> Self {
        let base = text::clean(base.into(), 512);
        self.problem_type_base = text::is_type_base(&base).then_some(base);
        self
    }

    /// This gateway's name for `Proxy-Status`, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(Policy::new().proxy_name(), None);
    /// ```
    #[must_use]
    pub fn proxy_name(&self) -> Option<&str> {
        self.proxy_name.as_deref()
    }

    /// Whether clients may see upstream names.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Policy;
    ///
    /// assert!(!Policy::default().shows_upstream_names());
    /// ```
    #[must_use]
    pub fn shows_upstream_names(&self) -> bool {
        self.upstream_names
    }

    /// The base URI for problem types, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(Policy::new().problem_type_base(), None);
    /// ```
    #[must_use]
    pub fn problem_type_base(&self) -> Option<&str> {
        self.problem_type_base.as_deref()
    }
}

static DEFAULT_POLICY: Policy = Policy::new();

/// What the renderer knows of the request: the negotiated format, the
/// method, the request id, and the [`Policy`].
///
/// The default renders JSON with the default policy, for an unknown method.
///
/// # Examples
///
/// ```
/// use gateway_error::{Format, Policy, RenderContext};
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("accept", HeaderValue::from_static("text/html"));
/// headers.insert("x-request-id", HeaderValue::from_static("req-7"));
/// let policy = Policy::new().with_proxy_name("bff");
/// let ctx = RenderContext::from_request(&Method::GET, &headers).with_policy(&policy);
/// assert_eq!(ctx.format(), Format::Html);
/// assert_eq!(ctx.request_id(), Some("req-7"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RenderContext<'a> {
    format: Format,
    method: Option<&'a Method>,
    request_id: Option<&'a str>,
    policy: &'a Policy,
}

impl Default for RenderContext<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> RenderContext<'a> {
    /// JSON, unknown method, no request id, the default policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Format, RenderContext};
    ///
    /// assert_eq!(RenderContext::new().format(), Format::Json);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            format: Format::Json,
            method: None,
            request_id: None,
            policy: &DEFAULT_POLICY,
        }
    }

    /// The context of a request: its method, the format it asks for (see
    /// [`Format::from_request`]: gRPC for a gRPC call, else by its `Accept`
    /// fields) and its `x-request-id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Format, RenderContext};
    /// use http::{HeaderMap, Method};
    ///
    /// let headers = HeaderMap::new();
    /// let ctx = RenderContext::from_request(&Method::HEAD, &headers);
    /// assert_eq!(ctx.format(), Format::Json);
    /// assert_eq!(ctx.method(), Some(&Method::HEAD));
    /// ```
    #[must_use]
    pub fn from_request(method: &'a Method, headers: &'a HeaderMap) -> Self {
        let mut ctx = Self::new()
            .with_method(method)
            .with_format(Format::from_request(headers));
        if let Some(id) = headers.get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
            ctx = ctx.with_request_id(id);
        }
        ctx
    }

    /// Negotiates the format from every `Accept` field in `headers`
    /// (RFC 9110 section 12.5.1); none acceptable means JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Format, RenderContext};
    /// use http::{HeaderMap, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.append("accept", HeaderValue::from_static("text/plain;q=0.5"));
    /// headers.append("accept", HeaderValue::from_static("application/problem+json"));
    /// let ctx = RenderContext::new().with_accept(&headers);
    /// assert_eq!(ctx.format(), Format::ProblemJson);
    /// ```
    #[must_use]
    pub fn with_accept(self, headers: &HeaderMap) -> Self {
        self.with_accept_values(headers.get_all(ACCEPT))
    }

    /// Negotiates the format from `Accept` field values an adapter captured
    /// from the request, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Format, RenderContext};
    /// use http::HeaderValue;
    ///
    /// let accept = [HeaderValue::from_static("text/html")];
    /// assert_eq!(RenderContext::new().with_accept_values(&accept).format(), Format::Html);
    /// ```
    #[must_use]
    pub fn with_accept_values<'v>(
        mut self,
        values: impl IntoIterator<Item = &'v HeaderValue>,
    ) -> Self {
        self.format = Format::negotiate_fields(values.into_iter().map(HeaderValue::as_bytes));
        self
    }

    /// Sets the format directly, skipping negotiation.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Format, RenderContext};
    ///
    /// assert_eq!(RenderContext::new().with_format(Format::Text).format(), Format::Text);
    /// ```
    #[must_use]
    pub const fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Sets the request's method: HEAD gets no body, and the method decides
    /// whether a retry is safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RenderContext;
    /// use http::Method;
    ///
    /// assert_eq!(RenderContext::new().with_method(&Method::POST).method(), Some(&Method::POST));
    /// ```
    #[must_use]
    pub const fn with_method(mut self, method: &'a Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets the request id shown to the client when the error has none.
    /// Ids that are empty, longer than 128 bytes or not visible ASCII are
    /// ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RenderContext;
    ///
    /// assert_eq!(RenderContext::new().with_request_id("abc").request_id(), Some("abc"));
    /// assert_eq!(RenderContext::new().with_request_id("a b").request_id(), None);
    /// ```
    #[must_use]
    pub fn with_request_id(mut self, id: &'a str) -> Self {
        self.request_id = is_valid_request_id(id).then_some(id);
        self
    }

    /// Sets the policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Policy, RenderContext};
    ///
    /// let policy = Policy::new().with_proxy_name("bff");
    /// assert_eq!(RenderContext::new().with_policy(&policy).policy().proxy_name(), Some("bff"));
    /// ```
    #[must_use]
    pub const fn with_policy(mut self, policy: &'a Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The negotiated format.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Format, RenderContext};
    ///
    /// assert_eq!(RenderContext::default().format(), Format::Json);
    /// ```
    #[must_use]
    pub const fn format(&self) -> Format {
        self.format
    }

    /// The request's method, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RenderContext;
    ///
    /// assert_eq!(RenderContext::new().method(), None);
    /// ```
    #[must_use]
    pub const fn method(&self) -> Option<&'a Method> {
        self.method
    }

    /// The request id, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RenderContext;
    ///
    /// assert_eq!(RenderContext::new().request_id(), None);
    /// ```
    #[must_use]
    pub const fn request_id(&self) -> Option<&'a str> {
        self.request_id
    }

    /// The policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{Policy, RenderContext};
    ///
    /// assert_eq!(RenderContext::new().policy(), &Policy::new());
    /// ```
    #[must_use]
    pub const fn policy(&self) -> &'a Policy {
        self.policy
    }
}
