using System.Buffers;
using Nemcache.Service.Protocol.Lines;
using Nemcache.Service.Protocol.Stats;
using static Nemcache.Service.Protocol.Lines.TextReplies;

namespace Nemcache.Service.Protocol.Text;

/// <summary>
/// The text protocol's `stats [group]` and `lru_crawler metadump`, with memcached 1.6.18's replies for every argument
/// it takes and every error it answers.
/// </summary>
internal static class TextStatsCommands
{
    public static void Stats(ServerContext context, ref TextTokens tokens, int arguments, IBufferWriter<byte> output)
    {
        if (arguments == 0)
        {
            Write(output, StatsReport.General(context));
            return;
        }
        tokens.TryNext(out var group);
        if (group.SequenceEqual("settings"u8))
        {
            Write(output, StatsReport.Settings(context));
        }
        else if (group.SequenceEqual("items"u8))
        {
            Write(output, PseudoSlabClass.Items(context.Cache.GetStatistics()));
        }
        else if (group.SequenceEqual("slabs"u8))
        {
            Write(output, PseudoSlabClass.Slabs(context.Cache.GetStatistics()));
        }
        else if (group.SequenceEqual("sizes"u8))
        {
            Write(output, PseudoSlabClass.Sizes());
        }
        else if (group.SequenceEqual("conns"u8))
        {
            Write(output, ConnectionListing.List(context.Statistics.Connections));
        }
        else if (group.SequenceEqual("cachedump"u8))
        {
            Cachedump(context, ref tokens, arguments, output);
        }
        else if (group.SequenceEqual("reset"u8))
        {
            context.Cache.ResetStatistics();
            output.Write(Reset);
        }
        else if (group.SequenceEqual("detail"u8))
        {
            output.Write(StatsDetailUsage);
        }
        else
        {
            output.Write(Error);
        }
    }

    /// <summary>lru_crawler: only metadump, which takes exactly one argument: all, hash, or a list of class ids.</summary>
    public static void LruCrawler(ServerContext context, ref TextTokens tokens, int arguments, IBufferWriter<byte> output)
    {
        tokens.TryNext(out var subcommand);
        if (arguments != 2 || !subcommand.SequenceEqual("metadump"u8))
        {
            output.Write(Error);
            return;
        }
        tokens.TryNext(out var classes);
        if (classes.SequenceEqual("all"u8) || classes.SequenceEqual("hash"u8))
        {
            KeyDump.WriteMetadump(context.Cache, output);
            return;
        }
        var includesItems = false;
        foreach (var range in classes.Split((byte)','))
        {
            var id = classes[range];
            if (!TextTokens.TryParseUInt64(id, out var classId) || classId is < PseudoSlabClass.Id or >= PseudoSlabClass.ClassIdLimit)
            {
                output.Write("BADCLASS invalid class id\r\n"u8);
                return;
            }
            includesItems |= classId == PseudoSlabClass.Id;
        }
        if (includesItems)
        {
            KeyDump.WriteMetadump(context.Cache, output);
        }
        else
        {
            output.Write(End);
        }
    }

    private static void Cachedump(ServerContext context, ref TextTokens tokens, int arguments, IBufferWriter<byte> output)
    {
        if (arguments < 3)
        {
            output.Write("CLIENT_ERROR bad command line\r\n"u8);
            return;
        }
        tokens.TryNext(out var idToken);
        tokens.TryNext(out var limitToken);
        if (!TextTokens.TryParseUInt64(idToken, out var id) || id > uint.MaxValue
            || !TextTokens.TryParseUInt64(limitToken, out var limit) || limit > uint.MaxValue)
        {
            output.Write(BadCommandLine);
            return;
        }
        if (id >= PseudoSlabClass.ClassIdLimit)
        {
            output.Write("CLIENT_ERROR Illegal slab id\r\n"u8);
            return;
        }
        if (id == PseudoSlabClass.Id)
        {
            KeyDump.WriteCachedump(context.Cache, (long)limit, output);
        }
        else
        {
            output.Write(End);
        }
    }

    public static void Write(IBufferWriter<byte> output, List<KeyValuePair<string, string>> stats)
    {
        foreach (var (name, value) in stats)
        {
            output.Write(Stat);
            ReplyWriter.WriteAscii(output, name);
            output.Write(" "u8);
            ReplyWriter.WriteAscii(output, value);
            output.Write(NewLine);
        }
        output.Write(End);
    }
}
