using Google.Protobuf;
using Nemcache.Storage.Persistence.Stream;
using NUnit.Framework;

namespace Nemcache.Tests.Persistence.Stream;

/// <summary>
/// The restore's reading of large logs: frames across the reader's window and larger than it, and enough records that
/// the map is sized from an estimate and applied in many batches on the replay thread, in log order.
/// </summary>
public sealed class StreamLogReadingTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("nemcache-reading-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Records_across_the_read_window_and_larger_than_it_read_back_whole()
    {
        var values = new Dictionary<string, byte[]>();
        var random = new Random(3);
        using (var writer = StreamLogWriter.Create(Path.Combine(_directory, StreamLogFormat.LogFileName)))
        {
            // 9 MiB of values of uneven sizes, so that frames straddle every 4 MiB window; then one of 6 MiB.
            for (var i = 0; i < 300; i++)
            {
                values[$"k{i}"] = RandomBytes(random, random.Next(1, 60_000));
            }
            values["large"] = RandomBytes(random, 6 << 20);
            values["after"] = RandomBytes(random, 10);
            ulong sequence = 0;
            foreach (var (key, value) in values)
            {
                writer.Append(Store(key, value, ++sequence));
            }
            writer.WritePending();
        }

        var contents = StreamLogContents.Read(_directory);

        Assert.That(contents.Skipped, Is.Empty);
        Assert.That(contents.Cut, Is.Null);
        Assert.That(contents.Items.ToDictionary(i => System.Text.Encoding.UTF8.GetString(i.Key), i => i.Value), Is.EqualTo(values));
    }

    [Test]
    public void Many_records_replay_in_log_order_across_batches()
    {
        var expected = new Dictionary<string, (string Value, long ExpiresAt)>();
        ulong sequence = 0;
        using (var writer = StreamLogWriter.Create(Path.Combine(_directory, StreamLogFormat.LogFileName)))
        {
            for (var round = 0; round < 3; round++)
            {
                for (var i = 0; i < 10_000; i++)
                {
                    var key = $"key{i % 7_000}";
                    var value = $"{round}-{i}";
                    writer.Append(Store(key, value.Select(c => (byte)c).ToArray(), ++sequence));
                    expected[key] = (value, 0);
                    if (i % 11 == 0)
                    {
                        writer.Append(new LogRecord { Sequence = ++sequence, Remove = new RemoveRecord { Key = ByteString.CopyFromUtf8(key) } });
                        expected.Remove(key);
                    }
                    else if (i % 13 == 0)
                    {
                        writer.Append(new LogRecord { Sequence = ++sequence, Touch = new TouchRecord { Key = ByteString.CopyFromUtf8(key), ExpiresAt = i } });
                        expected[key] = (value, i);
                    }
                }
                if (round == 0)
                {
                    writer.Append(LogRecord.ForFlush(0, pending: false, ++sequence));
                    expected.Clear();
                }
            }
            writer.WritePending();
        }

        var contents = StreamLogContents.Read(_directory);

        Assert.That(contents.Records, Is.EqualTo((long)sequence));
        Assert.That(contents.Items.ToDictionary(i => System.Text.Encoding.UTF8.GetString(i.Key), i => (System.Text.Encoding.UTF8.GetString(i.Value), i.ExpiresAt)),
            Is.EqualTo(expected));
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static LogRecord Store(string key, byte[] value, ulong sequence) => new()
    {
        Sequence = sequence,
        Store = new StoreRecord { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value) },
    };
}
