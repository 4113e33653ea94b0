//! Process signals that begin a graceful shutdown.

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => tracing::info!("SIGINT received"),
                    _ = terminate.recv() => tracing::info!("SIGTERM received"),
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ignored = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ignored = interrupt.await;
    }
}
