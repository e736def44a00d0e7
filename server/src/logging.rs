//! The server log never carries a personal identifier: each event is
//! masked like published text ([`gongkai_ingest::privacy::mask_in_text`])
//! before it is written, and request spans name the path, never the query
//! (an upload's `?filename=` or a search's `?q=` may hold one, and a
//! percent-encoded one would not be recognised).

use std::io::Write;
use tracing_subscriber::fmt::MakeWriter;

/// Standard error, one masked event at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedStderr;

/// One event's bytes, masked and written when the event is complete.
#[derive(Debug, Default)]
pub struct MaskedEvent(Vec<u8>);

impl<'a> MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedEvent;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedEvent::default()
    }
}

impl Write for MaskedEvent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MaskedEvent {
    /// The event as it is written: its identifiers masked.
    fn masked(&self) -> String {
        let text = String::from_utf8_lossy(&self.0);
        gongkai_ingest::privacy::mask_in_text(&text).unwrap_or_else(|| text.into_owned())
    }
}

impl Drop for MaskedEvent {
    fn drop(&mut self) {
        let _ = std::io::stderr().write_all(self.masked().as_bytes());
    }
}

/// The span of one request: method and path (the route's pattern when
/// one matched), without the query string.
pub fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let path = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| request.uri().path(), |m| m.as_str());
    tracing::info_span!("request", method = %request.method(), path = %path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_masked_whole() {
        let mut e = MaskedEvent::default();
        e.write_all(b"upload of \xe5\x90\x8d\xe5\x86\x8c 139 1234")
            .unwrap();
        e.write_all(b" 5678.csv failed\n").unwrap();
        assert_eq!(e.masked(), "upload of 名册 [手机号已隐藏].csv failed\n");
        e.0.clear();
    }
}
