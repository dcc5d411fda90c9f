using BenchmarkDotNet.Running;

namespace Nemcache.Benchmarks;

/// <summary>
/// Runs every benchmark, or the ones named: dotnet run -c Release --project Nemcache.Benchmarks -- --filter '*Text*'.
/// (A class, not top-level statements: the Service's own Program is visible here through InternalsVisibleTo.)
/// </summary>
public static class BenchmarkProgram
{
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
}
