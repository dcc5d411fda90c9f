using System.Buffers;
using System.Text;
using Nemcache.Service.Configuration;
using Nemcache.Service.Networking;
using Nemcache.Service.Protocol;
using Nemcache.Service.Protocol.Text;
using Nemcache.Storage.Cache;
using Nemcache.Tests.Support;

namespace Nemcache.Tests.Protocol;

/// <summary>
/// The golden exchanges that need time to pass (<see cref="TextProtocolGoldenTests"/> holds the others): the same
/// request bytes and the replies memcached 1.6.18 gave, through the text processor over a cache whose clock the test
/// moves, so that waiting for an expiry or a delayed flush takes no time and its deadline can be checked on both sides.
/// </summary>
[TestFixture]
public sealed class TextProtocolClockTests
{
    private ManualTimeProvider _clock = null!;
    private TextProtocolProcessor _processor = null!;

    [SetUp]
    public void CreateProcessor()
    {
        _clock = new ManualTimeProvider();
        var settings = new ServerSettings();
        var context = new ServerContext(new MemCache(settings.ToCacheOptions(), _clock), null, settings, new ServerStatistics());
        _processor = new TextProtocolProcessor(context);
    }

    private string Exchange(string request)
    {
        var input = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(request));
        var output = new ArrayBufferWriter<byte>();
        _processor.Process(ref input, output);
        Assert.That(input.Length, Is.Zero, "every command was consumed");
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    [Test]
    public void Delayed_flush_all_empties_the_cache_when_its_time_comes()
    {
        Assert.That(Exchange("set f1 0 0 1\r\nx\r\nflush_all 2\r\nget f1\r\n"), Is.EqualTo("STORED\r\nOK\r\nVALUE f1 0 1\r\nx\r\nEND\r\n"));
        _clock.AdvanceSeconds(1);
        Assert.That(Exchange("get f1\r\n"), Is.EqualTo("VALUE f1 0 1\r\nx\r\nEND\r\n"), "before the deadline");
        _clock.AdvanceSeconds(2);
        Assert.That(Exchange("get f1\r\nset f2 0 0 1\r\ny\r\nget f2\r\n"), Is.EqualTo("END\r\nSTORED\r\nVALUE f2 0 1\r\ny\r\nEND\r\n"));
    }

    [Test]
    public void Item_expires_after_its_relative_exptime()
    {
        Assert.That(Exchange("set e1 0 1 1\r\nx\r\nget e1\r\n"), Is.EqualTo("STORED\r\nVALUE e1 0 1\r\nx\r\nEND\r\n"));
        _clock.AdvanceSeconds(2);
        Assert.That(Exchange("get e1\r\n"), Is.EqualTo("END\r\n"));
    }
}
