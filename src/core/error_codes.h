// Every error code berth has, once: its enum name, its wire string (part of the API contract,
// see docs/api.md) and the HTTP status it answers with. The enum and both tables are generated
// from this one list, so a code cannot lack a string or a status.
#pragma once

// X(enumerator, "wire_string", http_status)
#define BERTH_ERROR_CODES(X)                                 \
  /* requests */                                             \
  X(kBadRequest, "bad_request", 400)                         \
  X(kUnauthorized, "unauthorized", 401)                      \
  X(kNotFound, "not_found", 404)                             \
  X(kMethodNotAllowed, "method_not_allowed", 405)            \
  X(kRequestTimeout, "request_timeout", 408)                 \
  X(kPayloadTooLarge, "payload_too_large", 413)              \
  X(kHeadersTooLarge, "headers_too_large", 431)              \
  X(kUploadIncomplete, "upload_incomplete", 400)             \
  X(kTooManyConnections, "too_many_connections", 503)        \
  X(kShuttingDown, "shutting_down", 503)                     \
  /* input */                                                \
  X(kBadManifest, "bad_manifest", 400)                       \
  X(kBadEnvFile, "bad_env_file", 400)                        \
  X(kBadEnv, "bad_env", 400)                                 \
  X(kUnknownProfile, "unknown_profile", 400)                 \
  X(kBadName, "bad_name", 400)                               \
  X(kBadDir, "bad_dir", 400)                                 \
  X(kBadSize, "bad_size", 400)                               \
  X(kBadDuration, "bad_duration", 400)                       \
  X(kBadPattern, "bad_pattern", 400)                         \
  X(kBadConfig, "bad_config", 400)                           \
  X(kBadPackageJson, "bad_package_json", 500)                \
  /* components */                                           \
  X(kNameTaken, "name_taken", 409)                           \
  X(kSpawnFailed, "spawn_failed", 422)                       \
  X(kNoFreeAddress, "no_free_address", 503)                  \
  X(kNotRecorded, "not_recorded", 500)                       \
  X(kComponentDestroyed, "component_destroyed", 410)         \
  X(kDestroyInProgress, "destroy_in_progress", 409)          \
  X(kDestroyFailed, "destroy_failed", 500)                   \
  X(kStartupIdleTimeout, "startup_idle_timeout", 500)        \
  X(kStartupMaxExceeded, "startup_max_exceeded", 500)        \
  X(kExitedAfterReady, "exited_after_ready", 500)            \
  X(kExitedBeforeReady, "exited_before_ready", 500)          \
  X(kPortInUse, "port_in_use", 409)                          \
  X(kLimitsUnavailable, "limits_unavailable", 422)           \
  X(kUnhealthy, "unhealthy", 500)                            \
  X(kExited, "exited", 500)                                  \
  X(kStopped, "stopped", 500)                                \
  X(kNotRunning, "not_running", 409)                         \
  X(kCgroupError, "cgroup_error", 500)                       \
  X(kWatchFailed, "watch_failed", 500)                       \
  X(kInotifyInstances, "inotify_instances", 500)             \
  X(kInotifyWatches, "inotify_watches", 500)                 \
  /* deploys */                                              \
  X(kDeployInProgress, "deploy_in_progress", 409)            \
  X(kNotDeployed, "not_deployed", 409)                       \
  X(kNoPreviousRelease, "no_previous_release", 409)          \
  X(kReleaseGone, "release_gone", 410)                       \
  X(kInterrupted, "interrupted", 500)                        \
  X(kExtractFailed, "extract_failed", 500)                   \
  X(kActivateFailed, "activate_failed", 500)                 \
  X(kInstallFailed, "install_failed", 500)                   \
  X(kInstallTimeout, "install_timeout", 500)                 \
  X(kPackFailed, "pack_failed", 500)                         \
  X(kArchiveAbsolutePath, "archive_absolute_path", 422)      \
  X(kArchivePathTraversal, "archive_path_traversal", 422)    \
  X(kArchiveSymlinkEscape, "archive_symlink_escape", 422)    \
  X(kArchiveHardlinkEscape, "archive_hardlink_escape", 422)  \
  X(kArchiveThroughSymlink, "archive_through_symlink", 422)  \
  X(kArchiveEntryConflict, "archive_entry_conflict", 422)    \
  X(kArchiveSpecialFile, "archive_special_file", 422)        \
  X(kArchiveTooLarge, "archive_too_large", 422)              \
  X(kArchiveTooManyEntries, "archive_too_many_entries", 422) \
  X(kArchivePathTooLong, "archive_path_too_long", 422)       \
  X(kArchiveTooDeep, "archive_too_deep", 422)                \
  X(kArchiveBomb, "archive_bomb", 422)                       \
  X(kArchiveTruncated, "archive_truncated", 422)             \
  X(kArchiveInvalid, "archive_invalid", 422)                 \
  X(kArchiveEmpty, "archive_empty", 422)                     \
  /* the install cache */                                    \
  X(kCacheOff, "cache_off", 409)                             \
  X(kCacheEntryNotFound, "cache_entry_not_found", 404)       \
  X(kCacheKeyAmbiguous, "cache_key_ambiguous", 400)          \
  X(kCacheEntryInUse, "cache_entry_in_use", 409)             \
  X(kCacheEntryBusy, "cache_entry_busy", 409)                \
  X(kLockTimeout, "lock_timeout", 500)                       \
  X(kLockFailed, "lock_failed", 500)                         \
  X(kLockLost, "lock_lost", 500)                             \
  X(kCancelled, "cancelled", 500)                            \
  /* the cluster */                                          \
  X(kClusterUnavailable, "cluster_unavailable", 503)         \
  X(kUnreachable, "unreachable", 503)                        \
  X(kBadEtcdReply, "bad_etcd_reply", 502)                    \
  X(kConflict, "conflict", 409)                              \
  X(kDigestMismatch, "digest_mismatch", 502)                 \
  X(kPeerFailed, "peer_failed", 502)                         \
  X(kBusy, "busy", 503)                                      \
  X(kNotInCluster, "not_in_cluster", 409)                    \
  X(kRolloutStopped, "rollout_stopped", 409)                 \
  /* the daemon and its clients */                           \
  X(kHomeError, "home_error", 500)                           \
  X(kDaemonRunning, "daemon_running", 500)                   \
  X(kDaemonUnreachable, "daemon_unreachable", 500)           \
  X(kBadResponse, "bad_response", 500)                       \
  X(kListenFailed, "listen_failed", 500)                     \
  X(kIoError, "io_error", 500)                               \
  X(kDiskFull, "disk_full", 507)                             \
  X(kStoreError, "store_error", 500)                         \
  X(kInternal, "internal", 500)
