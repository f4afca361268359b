# Install layout and the Debian package (CPack DEB). Included once from the
# top-level CMakeLists.txt, after every installable target is defined.
#
# The .deb installs to /usr (binaries in /usr/bin, which the systemd unit
# names) with the config under /etc/touchpointd. `cmake --install` to the
# default /usr/local prefix puts the same files under /usr/local, except the
# config, which always goes to /etc/touchpointd.
#
# Build the package: cmake --build build && (cd build && cpack -G DEB)
# Test it:           scripts/test-package.sh build   (ctest -R test_package)
include(GNUInstallDirs)

set(TP_SYSCONF_DIR /etc/touchpointd)   # absolute: the unit reads it there
set(TP_STATE_DIR /var/lib/touchpointd) # the unit's StateDirectory=

# --- binaries ---------------------------------------------------------------
set(TP_INSTALL_BINS touchpointd tp-pub tp-tail)
foreach(t IN ITEMS tp-keygen tp-stat)   # added by later work; install when present
  if(TARGET ${t})
    list(APPEND TP_INSTALL_BINS ${t})
  endif()
endforeach()
install(TARGETS ${TP_INSTALL_BINS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- systemd: unit, user, directories ----------------------------------------
# ${prefix}/lib, not CMAKE_INSTALL_LIBDIR (lib/x86_64-linux-gnu on Debian).
install(FILES ${PROJECT_SOURCE_DIR}/systemd/touchpointd.service
              ${PROJECT_SOURCE_DIR}/systemd/touchpointd@.service
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/touchpointd.sysusers
        DESTINATION lib/sysusers.d RENAME touchpointd.conf)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/touchpointd.tmpfiles
        DESTINATION lib/tmpfiles.d RENAME touchpointd.conf)

# --- default config: the example with state_dir pointing at the service's -----
set(TP_DEFAULT_CONFIG ${PROJECT_BINARY_DIR}/touchpointd.yaml)
add_custom_command(
  OUTPUT ${TP_DEFAULT_CONFIG}
  COMMAND ${CMAKE_COMMAND} -DIN=${PROJECT_SOURCE_DIR}/examples/touchpointd.yaml
          -DOUT=${TP_DEFAULT_CONFIG} -DSTATE_DIR=${TP_STATE_DIR}
          -P ${PROJECT_SOURCE_DIR}/cmake/GenerateConfig.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/examples/touchpointd.yaml
          ${PROJECT_SOURCE_DIR}/cmake/GenerateConfig.cmake
  COMMENT "Generating the packaged touchpointd.yaml (state_dir: ${TP_STATE_DIR})")
add_custom_target(tp-default-config ALL DEPENDS ${TP_DEFAULT_CONFIG})
install(FILES ${TP_DEFAULT_CONFIG} DESTINATION ${TP_SYSCONF_DIR})

# --- field mappings for tp-pub --map, with the example exports they read -----
install(DIRECTORY ${PROJECT_SOURCE_DIR}/mappings/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/touchpointd/mappings FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/examples/veeva_calls.csv
              ${PROJECT_SOURCE_DIR}/examples/speaker_contracting.csv
              ${PROJECT_SOURCE_DIR}/examples/survey_nps.csv
        DESTINATION ${CMAKE_INSTALL_DATADIR}/touchpointd/examples)

# --- the dashboard's page (http.dashboard.enabled): static files, no build step;
# touchpointd serves them from here (tp_dash_static_root) ---------------------
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/dashboard/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/touchpointd/dashboard
        FILES_MATCHING PATTERN "*.html" PATTERN "*.js" PATTERN "*.css")
install(FILES ${PROJECT_SOURCE_DIR}/examples/grafana-touchpointd.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/touchpointd/examples)

# --- man pages, gzip -9n as Debian policy asks --------------------------------
set(TP_MAN_PAGES touchpointd.8 touchpointd.yaml.5 tp-pub.1 tp-tail.1)
set(TP_MAN_GZ)
foreach(page IN LISTS TP_MAN_PAGES)
  string(REGEX MATCH "[0-9]$" section ${page})
  set(gz ${PROJECT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(
    OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/man/${page} > ${gz}
    DEPENDS ${PROJECT_SOURCE_DIR}/man/${page}
    COMMENT "gzip man/${page}")
  list(APPEND TP_MAN_GZ ${gz})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(tp-man ALL DEPENDS ${TP_MAN_GZ})

# --- CPack: one .deb -----------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME touchpointd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "touchpointd maintainers <touchpointd@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time CRM accountability and friction alerts")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # touchpointd_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
# Extended description; the summary above becomes the synopsis line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "touchpointd watches a CRM event stream (ZeroMQ + protobuf) and raises an
alert when something slips: a call submitted without the data anyone can use,
a planned call never logged, a detractor nobody called back, a contracting step
past its SLA. Alerts are journaled in SQLite and published on ZeroMQ, FIRING
then RESOLVED. Includes the systemd unit and the tp-pub and tp-tail tools.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)       # runtime Depends from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/deb/conffiles
    ${PROJECT_SOURCE_DIR}/cmake/deb/postinst
    ${PROJECT_SOURCE_DIR}/cmake/deb/prerm
    ${PROJECT_SOURCE_DIR}/cmake/deb/postrm)
include(CPack)
