//! The retry policy over a tonic client's channel: gRPC calls' request
//! bodies are streams, so each call's body is read into memory once
//! (bounded, as gRFC A6's per-call retry buffer is) and sent again from
//! there.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tonic::body::Body as TonicBody;

use super::RetryPolicy;
use super::body::{BoxError, RetryBody};
use super::tower::attempts;

/// How much of a call's request body is held for retries: gRFC A6's
/// default per-call retry buffer (grpc-go and grpc-java use 256 KiB). A
/// call whose request is longer is sent once, as it is.
const MAX_HELD: usize = 256 * 1024;

/// [`RetryLayer`](super::RetryLayer) for tonic clients: put it over a
/// `tonic::transport::Channel` (or any tower service of tonic's requests)
/// and give the result to a generated client.
///
/// Each attempt is decided as [`RetryPolicy::decide`] does, for a call (a
/// POST): a call that failed before it reached the upstream (refused, DNS,
/// connect timeout) may be sent again; a gateway's answer (see
/// [`Format::Grpc`](crate::Format::Grpc)) is read from its `grpc-status`,
/// `grpc-retry-pushback-ms` and details: `UNAVAILABLE` with a pushback
/// that is not negative is a gateway's "send it again", after the
/// pushback's wait; a negative pushback stops (gRFC A6); any other code is
/// not retried. The [`Budget`](super::Budget) and the maximum count as
/// for HTTP. tonic implements no gRFC A6 retries of its own.
///
/// The request's body (one message for a unary or server-streaming call)
/// is read into memory before the first attempt, up to 256 KiB, gRFC A6's
/// default retry buffer; a longer one is sent once without retries. Do not
/// put it under client- or bidirectional-streaming calls whose requests
/// wait for the responses: their bodies do not end.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{GrpcRetryLayer, RetryPolicy};
/// use tower::Layer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let channel = GrpcRetryLayer::new(RetryPolicy::new().with_max_retries(2)).layer(channel);
/// // `HealthClient::new(channel)`, or any generated client.
/// # let _ = channel;
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct GrpcRetryLayer {
    policy: RetryPolicy,
}

impl GrpcRetryLayer {
    /// A layer retrying under `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{GrpcRetryLayer, RetryPolicy};
    ///
    /// let layer = GrpcRetryLayer::new(RetryPolicy::new());
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

impl<S> ::tower::Layer<S> for GrpcRetryLayer {
    type Service = GrpcRetryService<S>;

    fn layer(&self, inner: S) -> GrpcRetryService<S> {
        GrpcRetryService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service of [`GrpcRetryLayer`].
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{GrpcRetryLayer, GrpcRetryService, RetryPolicy};
/// use tower::Layer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let _service: GrpcRetryService<_> = GrpcRetryLayer::new(RetryPolicy::new()).layer(channel);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct GrpcRetryService<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S, ResB> ::tower::Service<Request<TonicBody>> for GrpcRetryService<S>
where
    S: ::tower::Service<Request<TonicBody>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    ResB: Body<Data = Bytes> + Unpin + Send + 'static,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<RetryBody<ResB>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<TonicBody>) -> Self::Future {
        // The service that was polled ready takes the first attempt.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            match hold(body).await? {
                Held::Whole(bytes) => {
                    let request = Request::from_parts(parts, Full::new(bytes));
                    attempts(AsTonic(inner), policy, request).await
                }
                Held::Partial(replay) => {
                    let request = Request::from_parts(parts, TonicBody::new(replay));
                    let response = inner.call(request).await.map_err(Into::into)?;
                    Ok(response.map(RetryBody::new))
                }
            }
        })
    }
}

/// A call's request body, read for retries.
enum Held {
    /// All of it.
    Whole(Bytes),
    /// More than [`MAX_HELD`]: what was read, and the rest.
    Partial(Replay),
}

/// Reads `body` to its end, or until more than [`MAX_HELD`] bytes came.
async fn hold(mut body: TonicBody) -> Result<Held, BoxError> {
    let mut frames = VecDeque::new();
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|status| Box::new(status) as BoxError)?;
        if let Some(data) = frame.data_ref() {
            len += data.len();
        }
        frames.push_back(frame);
        if len > MAX_HELD {
            return Ok(Held::Partial(Replay {
                frames,
                rest: Some(body),
            }));
        }
    }
    if frames.iter().all(Frame::is_data) {
        let mut whole = Vec::with_capacity(len);
        for frame in frames {
            if let Ok(data) = frame.into_data() {
                whole.extend_from_slice(&data);
            }
        }
        Ok(Held::Whole(Bytes::from(whole)))
    } else {
        // Request trailers: sent once, as they came.
        Ok(Held::Partial(Replay { frames, rest: None }))
    }
}

/// A body that gives the frames already read, then the rest.
struct Replay {
    frames: VecDeque<Frame<Bytes>>,
    rest: Option<TonicBody>,
}

impl Body for Replay {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        match &mut self.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }
}

/// The inner service, for requests whose bodies are held in memory.
#[derive(Clone)]
struct AsTonic<S>(S);

impl<S> ::tower::Service<Request<Full<Bytes>>> for AsTonic<S>
where
    S: ::tower::Service<Request<TonicBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> S::Future {
        self.0.call(request.map(TonicBody::new))
    }
}
