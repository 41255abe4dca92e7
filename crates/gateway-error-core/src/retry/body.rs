//! Reading a failing response's body for a gateway's verdict, and giving
//! every byte of it back.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;

use http::{Method, Response};

use super::{Failure, RetryPolicy};
use crate::parse::{MAX_BODY_LEN, may_hold_a_verdict};

/// A boxed error, as tower's layers give them.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pin_project_lite::pin_project! {
    /// The body of a response that came through a retry policy which read
    /// it to find a gateway's verdict (see [`RetryLayer`](crate::retry::RetryLayer)):
    /// the same bytes and trailers, in the same order; the ones the policy
    /// read come from memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryBody;
    /// use http_body_util::{BodyExt, Full};
    /// use bytes::Bytes;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let body = RetryBody::new(Full::new(Bytes::from_static(b"untouched")));
    /// assert_eq!(body.collect().await?.to_bytes(), "untouched");
    /// # Ok(())
    /// # }
    /// ```
    pub struct RetryBody<B> {
        held: Option<Bytes>,
        trailers: Option<HeaderMap>,
        #[pin]
        rest: Option<B>,
    }
}

impl<B> RetryBody<B> {
    /// `body` as it is, nothing read from it.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryBody;
    /// use http_body::Body;
    ///
    /// let body = RetryBody::new(String::from("abc"));
    /// assert_eq!(body.size_hint().exact(), Some(3));
    /// ```
    pub const fn new(body: B) -> Self {
        Self {
            held: None,
            trailers: None,
            rest: Some(body),
        }
    }
}

impl<B> Body for RetryBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if let Some(held) = this.held.take() {
            return Poll::Ready(Some(Ok(Frame::data(held))));
        }
        if let Some(rest) = this.rest.as_mut().as_pin_mut() {
            return rest.poll_frame(cx).map_err(Into::into);
        }
        Poll::Ready(
            this.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none()
            && self.trailers.is_none()
            && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let held = self.held.as_ref().map_or(0, Bytes::len) as u64;
        match &self.rest {
            Some(rest) => {
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(held));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(held));
                }
                hint
            }
            None => SizeHint::with_exact(held),
        }
    }
}

/// Whether a failing response's body is worth reading for a verdict: its
/// head says a retry may help for `method`, and its body may say otherwise.
pub(crate) fn worth_reading(
    policy: &RetryPolicy,
    method: &Method,
    head: &Failure,
    status: http::StatusCode,
    headers: &HeaderMap,
) -> bool {
    policy.check(method, head).is_ok() && may_hold_a_verdict(status, headers)
}

/// A failing response, as a retry policy sees it: when its head says a
/// retry may help for `method` and its body may say otherwise (a gateway
/// error's JSON body of a size `parse` reads), the body is read for the
/// gateway's verdict; either way the response is handed back whole, with
/// the failure it stands for. The one step the tower and
/// reqwest-middleware integrations share. A body that fails to arrive is
/// the error reading it would have been.
pub(crate) async fn settle<B>(
    policy: &RetryPolicy,
    method: &Method,
    response: Response<B>,
    head: Failure,
) -> Result<(Response<RetryBody<B>>, Failure), B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    if !worth_reading(policy, method, &head, response.status(), response.headers()) {
        return Ok((response.map(RetryBody::new), head));
    }
    let (parts, body) = response.into_parts();
    let (body, held) = read_held(body).await?;
    let failure = held
        .and_then(|held| Failure::from_response(parts.status, &parts.headers, &held))
        .unwrap_or(head);
    Ok((Response::from_parts(parts, body), failure))
}

/// Reads `body` for a verdict: its bytes when the whole body is at most
/// [`MAX_BODY_LEN`] (what `parse` reads), and the body to hand on, which
/// gives every byte and trailer back. A longer body is read no further
/// than the limit: it is no verdict, and the rest stays unread.
async fn read_held<B>(mut body: B) -> Result<(RetryBody<B>, Option<Bytes>), B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut held = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        match frame?.into_data() {
            Ok(data) => {
                held.extend_from_slice(&data);
                if held.len() > MAX_BODY_LEN {
                    let body = RetryBody {
                        held: Some(held.freeze()),
                        trailers: None,
                        rest: Some(body),
                    };
                    return Ok((body, None));
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let held = held.freeze();
    let body = RetryBody {
        held: Some(held.clone()).filter(|held| !held.is_empty()),
        trailers,
        rest: None,
    };
    Ok((body, Some(held)))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use http_body_util::{BodyExt as _, Full};

    use super::*;

    /// A body of these frames, then its end.
    struct Frames(VecDeque<Result<Frame<Bytes>, &'static str>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = &'static str;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, &'static str>>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    fn frames(frames: Vec<Result<Frame<Bytes>, &'static str>>) -> Frames {
        Frames(frames.into())
    }

    #[tokio::test]
    async fn a_body_read_for_a_verdict_gives_every_byte_and_trailer_back() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
        let body = frames(vec![
            Ok(Frame::data(Bytes::from_static(b"{\"error\":"))),
            Ok(Frame::data(Bytes::from_static(b"{}}"))),
            Ok(Frame::trailers(trailers.clone())),
        ]);
        let (body, held) = read_held(body).await.expect("read");
        assert_eq!(held.as_deref(), Some(&b"{\"error\":{}}"[..]));
        let collected = body.collect().await.expect("collected");
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "{\"error\":{}}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_no_verdict_and_is_handed_on_whole() {
        let big = Bytes::from(vec![b'x'; MAX_BODY_LEN]);
        let body = frames(vec![
            Ok(Frame::data(big)),
            Ok(Frame::data(Bytes::from_static(b"yz"))),
            Ok(Frame::data(Bytes::from_static(b"!"))),
        ]);
        let (body, held) = read_held(body).await.expect("read");
        assert_eq!(held, None);
        let all = body.collect().await.expect("collected").to_bytes();
        assert_eq!(all.len(), MAX_BODY_LEN + 3);
        assert!(all.ends_with(b"yz!"));
    }

    #[tokio::test]
    async fn a_body_that_fails_is_the_error_reading_it_would_have_been() {
        let body = frames(vec![
            Ok(Frame::data(Bytes::from_static(b"{"))),
            Err("reset"),
        ]);
        assert_eq!(read_held(body).await.err(), Some("reset"));
    }

    #[tokio::test]
    async fn an_empty_body_stays_empty() {
        let (body, held) = read_held(Full::<Bytes>::default()).await.expect("read");
        assert_eq!(held.as_deref(), Some(&b""[..]));
        assert!(body.is_end_stream());
        assert!(
            body.collect()
                .await
                .expect("collected")
                .to_bytes()
                .is_empty()
        );
    }
}
