using System.Diagnostics;
using Nemcache.Storage.Cache;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>
/// The data directory's size follows the live data, not the write rate: writers that churn large values as fast as
/// they can, into a small cache, must not push the log and the compaction file past the stated bound.
/// </summary>
public sealed class StreamDiskBoundTests : StreamArchiverFixture
{
    private const long MemoryLimit = 4 << 20;
    private const long CompactBytes = 1 << 20;
    private const int ValueSize = 64 << 10;
    private const int Writers = 4;

    [Test]
    public async Task Churning_large_values_keeps_the_directory_within_its_bound()
    {
        await ReplaceServerAsync(options: new StreamArchiverOptions { CompactBytes = CompactBytes },
            cacheOptions: new CacheOptions { MemoryLimitBytes = MemoryLimit });
        // docs/persistence.md, "Disk use": with T = max(CompactBytes, 2 x live), commits wait while the log is at 2T,
        // so it holds at most 2T and each writer's last batch; a compaction's next log holds at most the live data and
        // what the log holds.
        var live = MemoryLimit + MemoryLimit / 8;
        var compactAt = Math.Max(CompactBytes, 2 * live);
        var bound = 4 * compactAt + live + 2 * Writers * (ValueSize + 1024);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var largest = 0L;
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                largest = Math.Max(largest, DirectoryBytes());
                await Task.Delay(2);
            }
        });
        var written = 0L;
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var value = new byte[ValueSize];
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                value[0] = (byte)i;
                Server.Cache.Store(StoreMode.Set, PersistedCache.Key($"w{w}-{i % 40}"), 0, 0, (byte[])value.Clone());
                await Server.Plugin.CommitAsync();
                Interlocked.Add(ref written, ValueSize);
            }
        })).ToArray();
        await Task.WhenAll(writers);
        await sampler;

        Assert.That(written, Is.GreaterThan(2 * bound), "the writers must outpace the bound for the test to mean anything");
        Assert.That(largest, Is.LessThanOrEqualTo(bound), $"{written} bytes written");
        TestContext.Out.WriteLine($"written {written} bytes, largest directory {largest} bytes, bound {bound}");
    }

    private long DirectoryBytes()
    {
        long total = 0;
        foreach (var path in Directory.GetFiles(Server.DataDirectory))
        {
            try
            {
                total += new FileInfo(path).Length;
            }
            catch (FileNotFoundException)
            {
            }
        }
        return total;
    }
}
