using Nemcache.Tools;

return DataTool.Run(args, Console.Out, Console.Error, () => new BufferedStream(Console.OpenStandardOutput(), 1 << 16));
