// Tuning knobs of the cpu add op: none yet (rows are split evenly across
// threads by the shared binary_elementwise driver).
#pragma once
