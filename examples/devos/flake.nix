{
  # A small devos-style site for flk: every hosts/NAME.nix (and
  # hosts/NAME/default.nix) is a NixOS host named NAME; hosts/default.nix is
  # shared by all of them. `flk iso NixOS` builds its live installer; that
  # needs nix and the network (nixpkgs is fetched on first use).
  description = "An example devos-style NixOS site for flk";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      system = "x86_64-linux";
      entries = builtins.readDir ./hosts;
      isHost = name: type:
        (type == "regular" && lib.hasSuffix ".nix" name && name != "default.nix")
        || (type == "directory" && builtins.pathExists (./hosts + "/${name}/default.nix"));
      hostName = name: lib.removeSuffix ".nix" name;
      mkHost = name: lib.nixosSystem {
        inherit system;
        specialArgs = { inherit self; };
        modules = [
          ./hosts/default.nix
          (./hosts + "/${name}")
          { networking.hostName = lib.mkDefault (hostName name); }
        ];
      };
    in
    {
      nixosConfigurations = lib.mapAttrs' (name: _: lib.nameValuePair (hostName name) (mkHost name))
        (lib.filterAttrs isHost entries);

      devShells.${system}.default = nixpkgs.legacyPackages.${system}.mkShell {
        packages = with nixpkgs.legacyPackages.${system}; [ git nixos-rebuild ];
      };
    };
}
