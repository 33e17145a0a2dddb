//! A resumable upload survives the death of its process: a child process uploads, is killed
//! (SIGKILL) after some parts, and this process resumes from the state file; the object is
//! whole and its hash matches.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Emulator, Kind};
use polyorm_storage::{ResumeState, UploadOptions};
use sha2::{Digest, Sha256};

const CHILD_ENV: &str = "ORM_STORAGE_RESUMABLE_CHILD";
const PART: usize = 5 << 20;

fn store(endpoint_port: u16, bucket: &str) -> polyorm_storage::Store {
    common::attach(Kind::S3, endpoint_port)
        .builder(bucket, "")
        .part_size(PART)
        .build()
        .unwrap()
}

/// The child's side: uploads slowly (a pause after each part) until the parent kills it.
#[tokio::test]
#[ignore = "run by `a_resumable_upload_survives_a_killed_process` as its child process"]
async fn child_uploads_until_killed() {
    let args = std::env::var(CHILD_ENV)
        .expect("only run as the child of a_resumable_upload_survives_a_killed_process");
    let [port, bucket, source, state]: [&str; 4] = args
        .split('\n')
        .collect::<Vec<_>>()
        .try_into()
        .expect("4 arguments");
    let store = store(port.parse().unwrap(), bucket);
    store
        .upload_resumable(
            "resumed",
            source,
            state,
            UploadOptions::new().on_progress(|_| std::thread::sleep(Duration::from_millis(300))),
        )
        .await
        .unwrap();
    panic!("the parent should have killed this process before the upload completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumable_upload_survives_a_killed_process() {
    let emulator = Emulator::start(Kind::S3, None);
    let bucket = common::unique("resume");
    emulator.create_bucket(&bucket).await;
    let dir = std::env::temp_dir().join(common::unique("polyorm-storage-resume-kill"));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source");
    let data = common::content(6 * PART + 1234, 42);
    std::fs::write(&source, &data).unwrap();
    let state = dir.join("upload.json");

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_uploads_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(
            CHILD_ENV,
            format!(
                "{}\n{bucket}\n{}\n{}",
                emulator.port,
                source.display(),
                state.display()
            ),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once two parts are recorded.
    let deadline = Instant::now() + Duration::from_secs(60);
    let parts = loop {
        if let Ok(bytes) = std::fs::read(&state)
            && let Ok(s) = serde_json::from_slice::<ResumeState>(&bytes)
            && s.parts.len() >= 2
        {
            child.kill().unwrap();
            child.wait().unwrap();
            break s.parts.len();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended on its own"
        );
        assert!(
            Instant::now() < deadline,
            "the child recorded no parts within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let store = store(emulator.port, &bucket);
    assert!(
        !store.exists("resumed").await.unwrap(),
        "nothing is visible mid-upload"
    );
    let state_then: ResumeState = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(state_then.parts.len() >= parts && state_then.parts.len() < 7);

    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let blob = store
        .upload_resumable(
            "resumed",
            &source,
            &state,
            UploadOptions::new().on_progress(move |p| seen.lock().unwrap().push(p)),
        )
        .await
        .unwrap();
    // It carried on from the recorded parts rather than starting over.
    let first = reports.lock().unwrap()[0];
    assert_eq!(first.sent, (state_then.parts.len() * PART) as u64);
    assert_eq!(blob.size, data.len() as u64);
    assert_eq!(blob.sha256, hex::encode(Sha256::digest(&data)));
    assert!(store.read_all(&blob).await.unwrap() == data[..]);
    assert!(!state.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_state_file_of_another_upload_or_a_changed_source_is_refused() {
    let emulator = Emulator::start(Kind::S3, None);
    let bucket = common::unique("resume");
    emulator.create_bucket(&bucket).await;
    let store = store(emulator.port, &bucket);
    let dir = std::env::temp_dir().join(common::unique("polyorm-storage-resume-state"));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source");
    std::fs::write(&source, common::content(100, 1)).unwrap();
    let state = dir.join("state.json");
    let recorded = |key: &str, size: u64| {
        serde_json::json!({"store": "s3", "key": key, "upload_id": "x", "part_size": PART,
                           "source_size": size, "parts": []})
        .to_string()
    };
    std::fs::write(&state, recorded("other-key", 100)).unwrap();
    let err = store
        .upload_resumable("k", &source, &state, UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("belongs to the upload of `other-key`"),
        "{err}"
    );
    std::fs::write(&state, recorded("k", 99)).unwrap();
    let err = store
        .upload_resumable("k", &source, &state, UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("delete the state file to start over"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
