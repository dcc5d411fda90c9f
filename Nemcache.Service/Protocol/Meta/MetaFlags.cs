using Nemcache.Service.Protocol.Lines;
using static Nemcache.Service.Protocol.Meta.MetaReplies;

namespace Nemcache.Service.Protocol.Meta;

/// <summary>
/// The flags of one meta command, parsed as memcached 1.6.18 does for every meta command alike: each token is one
/// letter, optionally followed by its argument. Every flag any meta command knows is accepted here; a command ignores
/// those it has no use for, as memcached does. Return flags (k, c, t, …) are not recorded: the reply walks the tokens
/// again, so they come back in the order they were asked for.
/// </summary>
internal struct MetaFlags
{
    /// <summary>memcached accepts an opaque token (with its 'O') of up to this many bytes.</summary>
    private const int MaxOpaqueToken = 32;

    /// <summary>Every flag letter memcached 1.6.18 parses. E (new CAS) and x (md's remove value) are not among them.</summary>
    private static ReadOnlySpan<byte> Known => "bcfhklqstuvCDFIJLMNOPRT"u8;

    public bool Base64Key;
    public bool ReturnValue;
    public bool NoReply;
    public bool NoBump;
    public bool Invalidate;
    public ulong? CompareCas;
    public long? Ttl;
    public long? VivifyTtl;
    public long? RecacheBelow;
    public uint ClientFlags;
    public byte Mode;
    public ulong Delta;
    public ulong Initial;

    /// <summary>
    /// Parses every token left in <paramref name="tokens"/>. Returns the error line to send, or an empty span when all
    /// flags are valid.
    /// </summary>
    public static ReadOnlySpan<byte> Parse(TextTokens tokens, out MetaFlags flags)
    {
        flags = new MetaFlags { Delta = 1 };
        var seen = 0UL;
        while (tokens.TryNext(out var token))
        {
            var letter = token[0];
            if (Known.IndexOf(letter) < 0)
            {
                return InvalidFlag;
            }
            var bit = 1UL << (letter - 'A');
            if ((seen & bit) != 0)
            {
                return DuplicateFlag;
            }
            seen |= bit;
            var argument = token[1..];
            switch (letter)
            {
                case (byte)'b': flags.Base64Key = true; break;
                case (byte)'v': flags.ReturnValue = true; break;
                case (byte)'q': flags.NoReply = true; break;
                case (byte)'u': flags.NoBump = true; break;
                case (byte)'I': flags.Invalidate = true; break;
                case (byte)'O' when token.Length > MaxOpaqueToken:
                    return OpaqueTooLong;
                case (byte)'T' or (byte)'N' or (byte)'R':
                    if (!TextTokens.TryParseInt32(argument, out var seconds))
                    {
                        return BadToken;
                    }
                    if (letter == 'T') flags.Ttl = seconds;
                    else if (letter == 'N') flags.VivifyTtl = seconds;
                    else flags.RecacheBelow = seconds;
                    break;
                case (byte)'C':
                    if (!TextTokens.TryParseUInt64(argument, out var cas))
                    {
                        return BadToken;
                    }
                    flags.CompareCas = cas;
                    break;
                case (byte)'F':
                    if (!TextTokens.TryParseFlags(argument, out flags.ClientFlags))
                    {
                        return TextReplies.BadCommandLine;
                    }
                    break;
                case (byte)'M':
                    if (argument.Length != 1)
                    {
                        return BadModeLength;
                    }
                    flags.Mode = argument[0];
                    break;
                case (byte)'J':
                    if (!TextTokens.TryParseUInt64(argument, out flags.Initial))
                    {
                        return BadInitial;
                    }
                    break;
                case (byte)'D':
                    if (!TextTokens.TryParseUInt64(argument, out flags.Delta))
                    {
                        return BadDelta;
                    }
                    break;
            }
        }
        return [];
    }
}
