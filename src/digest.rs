//! sha256 as lower-case hex, the form every manifest and message uses: of bytes in memory,
//! of what passes through a writer (a download), and of a stream (a file).

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A writer that hashes everything written through it and passes it on to `inner`
/// (`std::io::sink()` to hash only).
pub struct Sha256Writer<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Sha256Writer<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The writer passed in and the hex sha256 of everything written.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hex sha256 of everything `reader` yields, streamed.
pub fn read_sha256(mut reader: impl Read) -> io::Result<String> {
    let mut hashing = Sha256Writer::new(io::sink());
    io::copy(&mut reader, &mut hashing)?;
    Ok(hashing.finish().1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_in_every_form() {
        // sha256("abc"), FIPS 180-2.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        assert_eq!(read_sha256(&b"abc"[..]).unwrap(), abc);
        let mut w = Sha256Writer::new(Vec::new());
        w.write_all(b"a").unwrap();
        w.write_all(b"bc").unwrap();
        let (inner, sha) = w.finish();
        assert_eq!((inner.as_slice(), sha.as_str()), (&b"abc"[..], abc));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
