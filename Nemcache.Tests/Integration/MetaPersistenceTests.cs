using Nemcache.Tests.Support;

namespace Nemcache.Tests.Integration;

/// <summary>
/// Meta commands feed the same notifications as the text commands, so what they store survives a restart. Needs a
/// persistence plugin: without one, what the meta commands store cannot survive the restart, and the test fails.
/// </summary>
[TestFixture]
[Category("NeedsPersistence")]
public sealed class MetaPersistenceTests
{
    [Test]
    public async Task Meta_set_data_survives_a_graceful_restart()
    {
        var dataDirectory = ServerProcess.NewDataDirectory();
        try
        {
            await using (var first = await ServerProcess.StartAsync(dataDirectory))
            {
                using var client = await first.ConnectAsync();
                await client.ExpectAsync("ms meta-persist 5 F9 T0\r\nhello\r\nms meta-append 1\r\na\r\nms meta-append 1 MA\r\nb\r\nmn\r\n",
                    "HD\r\nHD\r\nHD\r\nMN\r\n");
                Assert.That(await first.TerminateAsync(), Is.EqualTo(0), first.Output);
            }

            await using var second = await ServerProcess.StartAsync(dataDirectory);
            using var reader = await second.ConnectAsync();
            await reader.ExpectAsync("mg meta-persist v f\r\nmg meta-append v\r\n", "VA 5 f9\r\nhello\r\nVA 2\r\nab\r\n");
        }
        finally
        {
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }
    }
}
