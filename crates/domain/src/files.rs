//! The files the channel accepts, recognised by their bytes and not by their name: PDF,
//! PNG, JPEG and CAdES-signed P7M, at most 5 MB each; a name or a declared media type that
//! disagrees with the bytes is refused.

use crate::text;

pub const MAX_BYTES: usize = 5 * 1024 * 1024;
const FILE_NAME_MAX_CHARS: usize = 200;

/// One refused property of a file: the field (`file_name`, `media_type`, `content`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub field: &'static str,
    pub reason: String,
}

impl FileProblem {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// The kinds of file the channel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    /// A CAdES signed file (`.p7m`), DER-encoded PKCS#7 signedData.
    P7m,
}

impl Kind {
    /// Every kind, in the order the refusals list them.
    pub const ALL: [Self; 4] = [Self::Pdf, Self::Png, Self::Jpeg, Self::P7m];
}

/// The PKCS#7 signedData object identifier (1.2.840.113549.1.7.2), DER-encoded.
const SIGNED_DATA_OID: [u8; 11] = [
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];

impl Kind {
    /// What the bytes are, whatever the file is called.
    pub fn of(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.first() == Some(&0x30)
            && bytes.get(..bytes.len().min(32)).is_some_and(|head| {
                head.windows(SIGNED_DATA_OID.len())
                    .any(|w| w == SIGNED_DATA_OID)
            })
        {
            Some(Self::P7m)
        } else {
            None
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::P7m => "application/pkcs7-mime",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Pdf => &["pdf"],
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::P7m => &["p7m"],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF",
            Self::Png => "a PNG image",
            Self::Jpeg => "a JPEG image",
            Self::P7m => "a signed P7M file",
        }
    }
}

/// A file checked and ready to store: every problem reported at once.
pub fn check(
    file_name: &str,
    media_type: &str,
    content: &[u8],
) -> Result<(String, Kind), Vec<FileProblem>> {
    let mut violations = Vec::new();
    let name = text::clean(file_name, FILE_NAME_MAX_CHARS, false)
        .map_err(|reason| violations.push(FileProblem::new("file_name", reason)))
        .ok()
        .filter(|name| {
            let plain = !name.contains(['/', '\\']);
            if !plain {
                violations.push(FileProblem::new("file_name", "must be a name, not a path"));
            }
            plain
        });
    if content.is_empty() {
        violations.push(FileProblem::new("content", "the file is empty"));
    } else if content.len() > MAX_BYTES {
        violations.push(FileProblem::new(
            "content",
            format!(
                "the file has {} bytes; at most {MAX_BYTES} (5 MB)",
                content.len()
            ),
        ));
    }
    let kind = Kind::of(content);
    if kind.is_none() && !content.is_empty() {
        violations.push(FileProblem::new(
            "content",
            "is not a PDF, PNG, JPEG or signed P7M file (recognised by its bytes)",
        ));
    }
    if let (Some(kind), Some(name)) = (kind, &name) {
        let extension = name
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        if !kind.extensions().contains(&extension.as_str()) {
            violations.push(FileProblem::new(
                "file_name",
                format!(
                    "says .{extension} but the file is {}: name it .{}",
                    kind.describe(),
                    kind.extensions()[0]
                ),
            ));
        }
        let declared = media_type.trim().to_ascii_lowercase();
        if !declared.is_empty() && declared != kind.media_type() {
            violations.push(FileProblem::new(
                "media_type",
                format!(
                    "says {declared} but the file is {} ({})",
                    kind.describe(),
                    kind.media_type()
                ),
            ));
        }
    }
    match (name, kind) {
        (Some(name), Some(kind)) if violations.is_empty() => Ok((name, kind)),
        _ => Err(violations),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
    const P7M: &[u8] = &[
        0x30, 0x82, 0x05, 0x10, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
        0xA0, 0x82,
    ];

    #[test]
    fn files_are_recognised_by_their_bytes() {
        assert_eq!(Kind::of(PDF), Some(Kind::Pdf));
        assert_eq!(Kind::of(PNG), Some(Kind::Png));
        assert_eq!(Kind::of(JPEG), Some(Kind::Jpeg));
        assert_eq!(Kind::of(P7M), Some(Kind::P7m));
        assert_eq!(Kind::of(b"MZ\x90\x00 an executable"), None);
        assert_eq!(
            Kind::of(&[0x30, 0x82, 0x01, 0x00]),
            None,
            "DER, but not signedData"
        );
    }

    #[test]
    fn a_name_or_type_that_disagrees_with_the_bytes_is_refused() {
        assert_eq!(check("ISEE 2026.pdf", "", PDF).unwrap().1, Kind::Pdf);
        assert_eq!(
            check("foto.JPEG", "image/jpeg", JPEG).unwrap().1,
            Kind::Jpeg
        );
        assert_eq!(check("domanda.pdf.p7m", "", P7M).unwrap().1, Kind::P7m);
        let renamed = check("virus.pdf", "", b"MZ\x90\x00").unwrap_err();
        assert_eq!(renamed[0].field, "content");
        let wrong_name = check("scansione.pdf", "", PNG).unwrap_err();
        assert_eq!(wrong_name[0].field, "file_name");
        assert!(wrong_name[0].reason.contains("PNG"), "{wrong_name:?}");
        let wrong_type = check("scansione.png", "application/pdf", PNG).unwrap_err();
        assert_eq!(wrong_type[0].field, "media_type");
        let fields: Vec<_> = check("../etc/passwd.pdf", "", &[])
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["file_name", "content"]);
        let mut big = PDF.to_vec();
        big.resize(MAX_BYTES + 1, b' ');
        assert!(
            check("grande.pdf", "", &big).unwrap_err()[0]
                .reason
                .contains("at most")
        );
    }
}
