//! Responses as they came over a raw socket, for the suites that must see
//! each field line as sent.

/// An HTTP/1.1 response read to the end: the status, every field line in
/// wire order (names lowercase, values trimmed of spaces and tabs), and
/// everything after the header section.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The field lines, in wire order.
    pub fields: Vec<(String, Vec<u8>)>,
    /// The bytes after the header section.
    pub body: Vec<u8>,
}

/// Reads `raw`, everything a server sent on a connection it closed.
///
/// # Errors
///
/// When the header section does not end, or its status line or a field line
/// is malformed.
pub fn parse_response(raw: &[u8]) -> Result<RawResponse, Box<dyn std::error::Error + Send + Sync>> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "no end of header section in {:?}",
                String::from_utf8_lossy(raw)
            )
        })?;
    let head = std::str::from_utf8(&raw[..end])?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut fields = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad field line {line:?}"))?;
        fields.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).as_bytes().to_vec(),
        ));
    }
    Ok(RawResponse {
        status,
        fields,
        body: raw[end + 4..].to_vec(),
    })
}
