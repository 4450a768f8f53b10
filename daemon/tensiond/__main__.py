from tensiond.cli import main

if __name__ == "__main__":  # guarded: parser worker processes re-import the main module
    raise SystemExit(main())
