# Runs `npm ci` in WEB when WEB/node_modules is missing or older than
# WEB/package-lock.json, then touches STAMP. (cmake -P script, run by the
# build: see cmake/ui.cmake.)
set(marker ${WEB}/node_modules/.package-lock.json)
if(NOT EXISTS ${marker} OR ${WEB}/package-lock.json IS_NEWER_THAN ${marker})
  message(STATUS "Web UI: npm ci in ${WEB}")
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund WORKING_DIRECTORY ${WEB}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "npm ci failed in ${WEB} (exit ${rc})")
  endif()
endif()
file(TOUCH ${STAMP})
