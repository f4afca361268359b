# Writes the packaged default config: examples/touchpointd.yaml with its one
# top-level `state_dir:` line replaced by the service's StateDirectory. Every
# other line is copied as is, so keys the example gains later are shipped too.
# Fails when the line is missing or appears twice.
#
#   cmake -DIN=examples/touchpointd.yaml -DOUT=touchpointd.yaml -DSTATE_DIR=/var/lib/touchpointd
#         -P cmake/GenerateConfig.cmake
cmake_minimum_required(VERSION 3.20)
foreach(v IN ITEMS IN OUT STATE_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "GenerateConfig.cmake: -D${v}= is required")
  endif()
endforeach()

file(READ "${IN}" text)
set(mark "@TP_STATE_DIR_LINE@")
# A leading newline lets "\nstate_dir:" match on the first line too.
string(REGEX REPLACE "\nstate_dir:[^\n]*" "\n${mark}" marked "\n${text}")
string(REPLACE "${mark}" "" unmarked "${marked}")
string(LENGTH "${marked}" len_marked)
string(LENGTH "${unmarked}" len_unmarked)
string(LENGTH "${mark}" len_mark)
math(EXPR count "(${len_marked} - ${len_unmarked}) / ${len_mark}")
if(NOT count EQUAL 1)
  message(FATAL_ERROR "${IN}: expected exactly one top-level 'state_dir:' line, found ${count}")
endif()

string(REPLACE "${mark}" "state_dir: ${STATE_DIR}      # the unit's StateDirectory= (packaged default)"
       out "${marked}")
string(SUBSTRING "${out}" 1 -1 out)   # drop the leading newline added above
file(WRITE "${OUT}.tmp" "${out}")
file(RENAME "${OUT}.tmp" "${OUT}")
