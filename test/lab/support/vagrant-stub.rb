# Loads a Vagrantfile without Vagrant: a stand-in Vagrant.configure records every setting and
# call (with blocks evaluated into nested records) and prints the whole tree as JSON, so the
# lab tests can check the boxes, links and provisioners the Vagrantfile really defines.
require "json"

class LaggkitVagrantRecorder
  def initialize
    @attrs = {}
    @calls = []
    @children = {}
  end

  def method_missing(name, *args, **opts, &blk)
    n = name.to_s
    if n.end_with?("=")
      @attrs[n.chomp("=")] = args[0]
      return args[0]
    end
    return (@children[n] ||= LaggkitVagrantRecorder.new) if args.empty? && opts.empty? && blk.nil?

    call = { "method" => n, "args" => args, "options" => opts }
    if blk
      rec = LaggkitVagrantRecorder.new
      blk.call(rec)
      call["block"] = rec.to_h
    end
    @calls << call
    self
  end

  def respond_to_missing?(*)
    true
  end

  def to_h
    { "attrs" => @attrs, "calls" => @calls, "children" => @children.transform_values(&:to_h) }
  end
end

module Vagrant
  @configs = []
  class << self
    attr_reader :configs

    def configure(version)
      rec = LaggkitVagrantRecorder.new
      yield rec
      @configs << { "version" => version, "config" => rec.to_h }
    end
  end
end

load ARGV.fetch(0)
puts JSON.generate(Vagrant.configs)
