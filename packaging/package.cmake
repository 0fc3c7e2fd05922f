# `make package`: a Debian package of berth with CPack. The binary, the systemd unit and shell
# completions (both written by the binary itself), man pages, the docs, copyright and changelog,
# and maintainer scripts (packaging/debian/); its Depends are computed from the binary by
# dpkg-shlibdeps. lintian finds nothing to say about it (tests/integration/package_test.cpp).
include(GNUInstallDirs)

# Completions, written by the binary just built, so they never drift from the CLI.
set(BERTH_COMPLETIONS ${CMAKE_BINARY_DIR}/completions)
add_custom_command(
  OUTPUT ${BERTH_COMPLETIONS}/berth ${BERTH_COMPLETIONS}/_berth ${BERTH_COMPLETIONS}/berth.fish
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BERTH_COMPLETIONS}
  COMMAND sh -c "$<TARGET_FILE:berth> completion bash > ${BERTH_COMPLETIONS}/berth"
  COMMAND sh -c "$<TARGET_FILE:berth> completion zsh > ${BERTH_COMPLETIONS}/_berth"
  COMMAND sh -c "$<TARGET_FILE:berth> completion fish > ${BERTH_COMPLETIONS}/berth.fish"
  DEPENDS berth
  COMMENT "Generating shell completions"
  VERBATIM)
# Debian wants man pages compressed, reproducibly (-n: no name or time stamp).
set(BERTH_MAN ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${BERTH_MAN}/berth.1.gz ${BERTH_MAN}/berth.toml.5.gz ${BERTH_MAN}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BERTH_MAN}
  COMMAND sh -c "gzip -9n < ${PROJECT_SOURCE_DIR}/packaging/berth.1 > ${BERTH_MAN}/berth.1.gz"
  COMMAND sh -c "gzip -9n < ${PROJECT_SOURCE_DIR}/packaging/berth.toml.5 > ${BERTH_MAN}/berth.toml.5.gz"
  COMMAND sh -c "gzip -9n < ${PROJECT_SOURCE_DIR}/packaging/debian/changelog > ${BERTH_MAN}/changelog.gz"
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/berth.1 ${PROJECT_SOURCE_DIR}/packaging/berth.toml.5
          ${PROJECT_SOURCE_DIR}/packaging/debian/changelog
  COMMENT "Compressing man pages"
  VERBATIM)
# The unit is `berth startup`'s own, for the packaged binary and home: one text, never two.
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/berth.service
  COMMAND sh -c "BERTH_HOME=/var/lib/berth $<TARGET_FILE:berth> startup --print --bin /usr/bin/berth > ${CMAKE_BINARY_DIR}/berth.service"
  DEPENDS berth
  COMMENT "Writing the systemd unit"
  VERBATIM)
add_custom_target(berth_package_files ALL
  DEPENDS ${BERTH_COMPLETIONS}/berth ${BERTH_MAN}/berth.1.gz ${CMAKE_BINARY_DIR}/berth.service)

install(TARGETS berth RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_BINARY_DIR}/berth.service DESTINATION lib/systemd/system)
install(FILES ${BERTH_COMPLETIONS}/berth DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${BERTH_COMPLETIONS}/_berth DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${BERTH_COMPLETIONS}/berth.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(FILES ${BERTH_MAN}/berth.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${BERTH_MAN}/berth.toml.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES packaging/debian/copyright ${BERTH_MAN}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES README.md docs/api.md docs/architecture.md docs/cluster.md docs/daemon.md
              docs/manifest.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME berth)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "berth maintainers <maintainers@berth.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "deploy, run and supervise application components")
# Lines under 80 columns (lintian: extended-description-line-too-long).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "berth runs Node, Python or any other service as a supervised process tree:\nreadiness it can trust, restarts that stop at a crash loop, captured logs,\nzero-downtime restarts with [serve], tarball deploys with an install cache, a\ncluster mode on etcd and a web dashboard. One binary: berth daemon is the host,\nevery other command its client.")
# Maintainer scripts: systemd reloads its units; removal stops the daemon first.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "etcd-server")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
include(CPack)
