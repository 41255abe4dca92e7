//! warp's own answers to its own rejections, found by warp's public
//! rejection types.

use http::StatusCode;
use warp::Rejection;
use warp::reply::Response;

/// warp's answer to a rejection of its own, found by warp's public types
/// (warp keeps a rejection's status private): its status and, but for a
/// 404's empty body, its text as warp writes it (`text/plain;
/// charset=utf-8`). Of several causes, the one warp prefers: the highest
/// status, 404 and then 405 counting lowest; of equals, the first.
pub(crate) fn warp_answer(rejection: &Rejection) -> Option<Response> {
    use warp::filters::{body::BodyDeserializeError, cors::CorsForbidden, ext::MissingExtension};
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingCookie,
        MissingHeader, PayloadTooLarge, UnsupportedMediaType,
    };
    fn cause<T: std::fmt::Display + 'static>(
        rejection: &Rejection,
        status: StatusCode,
    ) -> Option<(StatusCode, String)> {
        rejection
            .find::<T>()
            .map(|cause| (status, cause.to_string()))
    }
    if rejection.is_not_found() {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Some(response);
    }
    let rank = |status: StatusCode| match status {
        StatusCode::METHOD_NOT_ALLOWED => 0,
        status => status.as_u16(),
    };
    let (status, text) = [
        cause::<MethodNotAllowed>(rejection, StatusCode::METHOD_NOT_ALLOWED),
        cause::<InvalidHeader>(rejection, StatusCode::BAD_REQUEST),
        cause::<MissingHeader>(rejection, StatusCode::BAD_REQUEST),
        cause::<MissingCookie>(rejection, StatusCode::BAD_REQUEST),
        cause::<InvalidQuery>(rejection, StatusCode::BAD_REQUEST),
        cause::<BodyDeserializeError>(rejection, StatusCode::BAD_REQUEST),
        cause::<LengthRequired>(rejection, StatusCode::LENGTH_REQUIRED),
        cause::<PayloadTooLarge>(rejection, StatusCode::PAYLOAD_TOO_LARGE),
        cause::<UnsupportedMediaType>(rejection, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        cause::<CorsForbidden>(rejection, StatusCode::FORBIDDEN),
        cause::<MissingExtension>(rejection, StatusCode::INTERNAL_SERVER_ERROR),
    ]
    .into_iter()
    .flatten()
    // `max_by_key` keeps the last of equals: reversed, the first.
    .rev()
    .max_by_key(|(status, _)| rank(*status))?;
    let mut response = Response::new(text.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Some(response)
}
