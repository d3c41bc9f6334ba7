# The web UI (web/): bundled by esbuild through npm, then embedded into the
# mlflow-c program by tools/embed.c, so the program serves it with nothing
# beside it and no Node.js at run time. Included by the top-level
# CMakeLists.txt; defines MLFLOW_UI_SOURCE, the generated C file that only
# mlflow-c compiles (libmlflow stays free of the UI: the program hands the
# table to the server in its options).
#
# Without node and npm (or with -DMLFLOW_UI=OFF) the build still succeeds:
# the embedded "UI" is one page saying how to build the real one.
option(MLFLOW_UI "Build the web UI with Node.js/npm and embed it in mlflow-c" ON)

set(MLFLOW_WEB_DIR ${PROJECT_SOURCE_DIR}/web)
set(MLFLOW_UI_OUT ${PROJECT_BINARY_DIR}/ui)
set(MLFLOW_UI_SOURCE ${MLFLOW_UI_OUT}/ui_assets.c)
file(MAKE_DIRECTORY ${MLFLOW_UI_OUT})

# The embedding tool runs on the build machine. zlib is optional: with it,
# text files are also embedded gzip-compressed.
add_executable(mlflow_embed ${PROJECT_SOURCE_DIR}/tools/embed.c)
target_compile_options(mlflow_embed PRIVATE ${MLFLOW_WARNINGS} ${MLFLOW_C_WARNINGS})
target_include_directories(mlflow_embed PRIVATE ${PROJECT_SOURCE_DIR}/src)
find_package(ZLIB QUIET)
if(ZLIB_FOUND)
  target_compile_definitions(mlflow_embed PRIVATE MLFLOW_EMBED_ZLIB)
  target_link_libraries(mlflow_embed PRIVATE ZLIB::ZLIB)
endif()

find_program(MLFLOW_NODE node)
find_program(MLFLOW_NPM npm)
if(MLFLOW_UI AND MLFLOW_NODE AND MLFLOW_NPM)
  execute_process(COMMAND ${MLFLOW_NODE} --version OUTPUT_VARIABLE node_version
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  message(STATUS "Web UI: built with Node.js ${node_version} and embedded in mlflow-c")
  file(GLOB_RECURSE MLFLOW_UI_INPUTS CONFIGURE_DEPENDS ${MLFLOW_WEB_DIR}/src/*)
  # `npm ci` only when web/node_modules is missing or older than the
  # lockfile, so one install (scripts/test.sh runs it first) serves every
  # build directory.
  add_custom_command(
    OUTPUT ${MLFLOW_UI_OUT}/npm-ci.stamp
    COMMAND ${CMAKE_COMMAND} -DWEB=${MLFLOW_WEB_DIR} -DNPM=${MLFLOW_NPM}
            -DSTAMP=${MLFLOW_UI_OUT}/npm-ci.stamp -P ${PROJECT_SOURCE_DIR}/cmake/ui-npm-ci.cmake
    DEPENDS ${MLFLOW_WEB_DIR}/package-lock.json ${MLFLOW_WEB_DIR}/package.json
            ${PROJECT_SOURCE_DIR}/cmake/ui-npm-ci.cmake
    COMMENT "Web UI: npm dependencies"
    VERBATIM)
  add_custom_command(
    OUTPUT ${MLFLOW_UI_SOURCE}
    COMMAND ${MLFLOW_NODE} ${MLFLOW_WEB_DIR}/build.mjs --out ${MLFLOW_UI_OUT}/dist
    COMMAND mlflow_embed ${MLFLOW_UI_SOURCE} ${MLFLOW_UI_OUT}/dist
    DEPENDS ${MLFLOW_UI_INPUTS} ${MLFLOW_WEB_DIR}/build.mjs ${MLFLOW_UI_OUT}/npm-ci.stamp
            mlflow_embed
    WORKING_DIRECTORY ${MLFLOW_WEB_DIR}
    COMMENT "Web UI: bundling web/src and embedding it"
    VERBATIM)
else()
  if(NOT MLFLOW_UI)
    message(STATUS "Web UI: off (-DMLFLOW_UI=OFF); mlflow-c serves a page saying how to build it")
  else()
    message(WARNING "Web UI: node and npm not found, so the UI is not built; mlflow-c serves "
                    "a page saying how to build it. Install Node.js (20 or newer) and npm "
                    "(scripts/install-deps.sh does) and configure again.")
  endif()
  add_custom_command(
    OUTPUT ${MLFLOW_UI_SOURCE}
    COMMAND mlflow_embed ${MLFLOW_UI_SOURCE} ${PROJECT_SOURCE_DIR}/cmake/ui-fallback
    DEPENDS ${PROJECT_SOURCE_DIR}/cmake/ui-fallback/index.html mlflow_embed
    COMMENT "Web UI: embedding the not-built page"
    VERBATIM)
endif()

# `cmake --build <dir> --target mlflow_ui` rebuilds just the UI. mlflow-c
# depends on it, so the generator never runs twice in a parallel build.
add_custom_target(mlflow_ui DEPENDS ${MLFLOW_UI_SOURCE})
