//! The blob store: uploaded bytes on a real object-store interface (`object_store`). A local
//! directory by default (`FILE_STORE_URL` unset: `<data dir>/files`), any S3-compatible store
//! with `FILE_STORE_URL=s3://bucket/prefix` and the usual `AWS_*` variables (endpoint,
//! region, keys, `AWS_ALLOW_HTTP`), so several worker replicas share one store.
//!
//! Keys: `users/<user id>/<sha256>` for stored files (the same bytes from the same user are
//! one object) and `incoming/<uuid>` while an upload streams in (its hash is not known yet).

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Parts of an upload written to the store concurrently.
const UPLOAD_CONCURRENCY: usize = 4;

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// For logs and the start-up line: `local:/path` or `s3://bucket/prefix`.
    pub describe: Arc<str>,
}

/// How a streamed upload ended.
#[derive(Debug)]
pub enum Received {
    /// Stored under `key`.
    Stored {
        key: String,
        size: u64,
        sha256: String,
    },
    /// More than the limit arrived; nothing is kept.
    TooLarge,
    /// Nothing arrived; nothing is kept.
    Empty,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("the upload was interrupted: {0}")]
    Body(String),
}

impl BlobStore {
    /// Opens the store `url` names: `s3://bucket[/prefix]`, else a local directory path
    /// (created when missing).
    pub fn open(url: &str) -> Result<Self, String> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("FILE_STORE_URL s3://… must name a bucket".to_owned());
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| format!("FILE_STORE_URL: cannot configure S3: {e}"))?;
            let prefix = prefix.trim_matches('/');
            let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            };
            return Ok(Self {
                inner,
                describe: url.into(),
            });
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("FILE_STORE_URL: cannot create {dir}: {e}"))?;
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| format!("FILE_STORE_URL: cannot open {dir}: {e}"))?;
        let local = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| format!("FILE_STORE_URL: cannot open {}: {e}", dir.display()))?;
        Ok(Self {
            inner: Arc::new(local),
            describe: format!("local:{}", dir.display()).into(),
        })
    }

    /// The key of `user`'s blob with this hash.
    pub fn key_for(user: Uuid, sha256: &str) -> String {
        format!("users/{user}/{sha256}")
    }

    /// Streams `body` into a staging object, hashing and counting as it goes; more than
    /// `max_bytes` aborts it. The caller moves it to its final key ([`Self::promote`]) or
    /// deletes it.
    pub async fn receive<S, E>(&self, body: S, max_bytes: u64) -> Result<Received, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let key = format!("incoming/{}", Uuid::new_v4());
        let path = Path::from(key.as_str());
        let upload = self.inner.put_multipart(&path).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut body = body;
        while let Some(next) = body.next().await {
            let chunk = match next {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StoreError::Body(e.to_string()));
                }
            };
            size += chunk.len() as u64;
            if size > max_bytes {
                let _ = writer.abort().await;
                return Ok(Received::TooLarge);
            }
            hasher.update(&chunk);
            if let Err(e) = writer.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            writer.put(chunk);
        }
        if size == 0 {
            let _ = writer.abort().await;
            return Ok(Received::Empty);
        }
        writer.finish().await?;
        Ok(Received::Stored {
            key,
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    /// Moves a received object to its final key (overwriting: same key, same bytes).
    pub async fn promote(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.inner
            .rename(&Path::from(from), &Path::from(to))
            .await
            .map_err(Into::into)
    }

    /// The object's bytes as a stream.
    pub async fn stream(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let got = self.inner.get(&Path::from(key)).await?;
        Ok(got.into_stream().map_err(StoreError::from).boxed())
    }

    /// The whole object (ingestion reads files up to FILE_MAX_BYTES).
    pub async fn read(&self, key: &str) -> Result<Bytes, StoreError> {
        Ok(self.inner.get(&Path::from(key)).await?.bytes().await?)
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
