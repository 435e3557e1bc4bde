//! Blobs: digests, a hashing reader, and the layer stream. A layer is read, hashed (its
//! descriptor digest), decompressed by sniffing gzip / zstd / plain, and hashed again (its
//! diff_id) on a helper thread, while the caller parses and applies the tar on its own: the
//! two halves of the work overlap (the unpacker is not on the create path, threads are fine).

use super::error::ImageError;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Largest manifest, index or config hull reads into memory.
pub const MAX_DOCUMENT: u64 = 64 << 20;
/// Size of the chunks the layer thread hands over.
const CHUNK: usize = 512 << 10;
/// Chunks in flight between the threads.
const IN_FLIGHT: usize = 8;

/// A sha256 content digest (`sha256:<64 hex>`), the only algorithm hull accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<hex>`; `field` names where the value came from, for the error.
    pub fn parse(field: &str, value: &str) -> Result<Digest, ImageError> {
        let bad = |reason| ImageError::BadDigest {
            field: field.to_string(),
            value: value.to_string(),
            reason,
        };
        let (alg, hex) = value.split_once(':').ok_or_else(|| bad("no algorithm"))?;
        if alg != "sha256" {
            return Err(bad("only sha256 is supported"));
        }
        Digest::from_hex(hex).ok_or_else(|| bad("not 64 lowercase hex digits"))
    }

    /// A digest from its 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Digest {
            hex: hex.to_string(),
        })
    }

    /// The hex part (the blob's file name, the store's directory name).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(h: Sha256) -> Digest {
        let sum = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in sum {
            hex.push_str(&format!("{b:02x}"));
        }
        Digest { hex }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The digest and length of what was read.
    pub fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.hasher), self.count)
    }

    /// The digest, the length and the inner reader.
    pub fn into_parts(self) -> (Digest, u64, R) {
        (Digest::from_hasher(self.hasher), self.count, self.inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Checks a digest and, when known, a size; `blob` names the blob in the error.
pub fn check(
    blob: &str,
    expected: &Digest,
    size: Option<u64>,
    found: (&Digest, u64),
) -> Result<(), ImageError> {
    if found.0 != expected {
        return Err(ImageError::DigestMismatch {
            blob: blob.to_string(),
            expected: expected.to_string(),
            found: found.0.to_string(),
        });
    }
    match size {
        Some(s) if s != found.1 => Err(ImageError::SizeMismatch {
            blob: blob.to_string(),
            expected: s,
            found: found.1,
        }),
        _ => Ok(()),
    }
}

/// Reads a small blob (manifest, index, config) whole, checking its digest and size.
pub fn read_document(
    reader: impl Read,
    blob: &str,
    expected: Option<&Digest>,
    size: Option<u64>,
) -> Result<Vec<u8>, ImageError> {
    let mut r = HashingReader::new(reader.take(MAX_DOCUMENT + 1));
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)
        .map_err(|source| ImageError::Layer {
            blob: blob.to_string(),
            source,
        })?;
    if buf.len() as u64 > MAX_DOCUMENT {
        return Err(ImageError::invalid(blob, "document larger than 64 MiB"));
    }
    let (digest, n) = r.finish();
    if let Some(want) = expected {
        check(blob, want, size, (&digest, n))?;
    }
    Ok(buf)
}

/// The compression of a layer, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
}

/// Sniffs the compression from a blob's magic number.
pub fn sniff(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        _ => Compression::None,
    }
}

/// What the layer thread measured once the blob ended.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Digest of the blob as stored (compressed).
    pub digest: Digest,
    /// Its length.
    pub size: u64,
    /// Digest of the uncompressed tar (the diff_id).
    pub diff_id: Digest,
}

enum Msg {
    Data(Vec<u8>),
    End(io::Result<Measured>),
}

/// The uncompressed tar of a layer, produced by a helper thread (see the module doc).
/// Read it to the end, then [`LayerStream::finish`] gives the digests.
pub struct LayerStream {
    rx: Option<Receiver<Msg>>,
    cur: Vec<u8>,
    pos: usize,
    end: Option<Measured>,
    thread: Option<JoinHandle<()>>,
}

impl LayerStream {
    /// Starts the thread on `raw`; `progress` counts the blob's bytes as they are read.
    pub fn start(raw: Box<dyn Read + Send>, progress: Option<Arc<AtomicU64>>) -> LayerStream {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let thread = std::thread::spawn(move || {
            let end = produce(raw, progress, &mut |chunk| {
                tx.send(Msg::Data(chunk)).is_ok()
            });
            let _ = tx.send(Msg::End(end));
        });
        LayerStream {
            rx: Some(rx),
            cur: Vec::new(),
            pos: 0,
            end: None,
            thread: Some(thread),
        }
    }

    /// Reads what is left (tar padding, trailing blocks) and returns the digests.
    pub fn finish(mut self) -> io::Result<Measured> {
        io::copy(&mut self, &mut io::sink())?;
        self.end
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "layer stream ended early"))
    }
}

impl Read for LayerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.end.is_some() {
                return Ok(0);
            }
            let Some(rx) = &self.rx else { return Ok(0) };
            match rx.recv() {
                Ok(Msg::Data(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Msg::End(Ok(m))) => self.end = Some(m),
                Ok(Msg::End(Err(e))) => {
                    self.rx = None;
                    return Err(e);
                }
                Err(_) => {
                    self.rx = None;
                    return Err(io::Error::other("layer thread died"));
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for LayerStream {
    fn drop(&mut self) {
        // Closing the channel makes a blocked sender fail, so the thread ends.
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts bytes into the shared progress counter.
struct Counting<R> {
    inner: R,
    counter: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &self.counter {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The thread's body: hash, decompress, hash, hand over; then drain and measure.
fn produce(
    raw: Box<dyn Read + Send>,
    counter: Option<Arc<AtomicU64>>,
    send: &mut dyn FnMut(Vec<u8>) -> bool,
) -> io::Result<Measured> {
    let hashed = HashingReader::new(Counting {
        inner: raw,
        counter,
    });
    let mut buffered = BufReader::with_capacity(CHUNK, hashed);
    let kind = sniff(buffered.fill_buf()?);
    let mut tar = match kind {
        Compression::None => Decoder::Plain(buffered),
        Compression::Gzip => Decoder::Gzip(Box::new(HashingReader::new(
            flate2::bufread::MultiGzDecoder::new(buffered),
        ))),
        Compression::Zstd => Decoder::Zstd(Box::new(HashingReader::new(
            zstd::stream::read::Decoder::with_buffer(buffered)?,
        ))),
    };
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let n = read_full(&mut tar, &mut chunk)?;
        if n == 0 {
            break;
        }
        chunk.truncate(n);
        if !send(chunk) {
            return Err(io::Error::other("layer reader went away"));
        }
    }
    tar.finish()
}

/// Fills `buf` as far as the reader allows (a decoder returns short reads).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

type Raw = BufReader<HashingReader<Counting<Box<dyn Read + Send>>>>;

enum Decoder {
    /// A plain tar: its diff_id is its digest, hashed once.
    Plain(Raw),
    Gzip(Box<HashingReader<flate2::bufread::MultiGzDecoder<Raw>>>),
    Zstd(Box<HashingReader<zstd::stream::read::Decoder<'static, Raw>>>),
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

impl Decoder {
    /// Both digests, after making sure nothing is left in the compressed blob.
    fn finish(self) -> io::Result<Measured> {
        let (diff_id, mut raw) = match self {
            Decoder::Plain(raw) => (None, raw),
            Decoder::Gzip(r) => {
                let (d, _, dec) = r.into_parts();
                (Some(d), dec.into_inner())
            }
            Decoder::Zstd(r) => {
                let (d, _, dec) = r.into_parts();
                (Some(d), dec.finish())
            }
        };
        let rest = io::copy(&mut raw, &mut io::sink())?;
        if rest != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{rest} bytes of garbage after the compressed stream"),
            ));
        }
        let (digest, size) = raw.into_inner().finish();
        Ok(Measured {
            diff_id: diff_id.unwrap_or_else(|| digest.clone()),
            digest,
            size,
        })
    }
}
