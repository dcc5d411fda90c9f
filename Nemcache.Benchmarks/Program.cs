using BenchmarkDotNet.Running;
using Nemcache.Benchmarks.Measurements;

namespace Nemcache.Benchmarks;

/// <summary>
/// Runs every benchmark, or the ones named: dotnet run -c Release --project Nemcache.Benchmarks -- --filter '*Text*';
/// or, with <c>measure [NAME...]</c> first, the one-shot measurements of <see cref="Measurement"/>.
/// (A class, not top-level statements: the Service's own Program is visible here through InternalsVisibleTo.)
/// </summary>
public static class BenchmarkProgram
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == Measurement.Command)
        {
            return Measurement.Run(args[1..], Console.Out);
        }
        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
        return 0;
    }
}
