// Tuning knobs of the cpu transpose op: none of its own; the strided copy it runs
// has its chunk and tile sizes in common/strided_copy.cpp.
#pragma once
