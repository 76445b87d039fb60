// libtorch already uses both cores inside one operation; running test classes in parallel on top of that
// oversubscribes the CPU (OpenMP threads spin while waiting) and made training tests several times slower.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
